#!/usr/bin/python3
"""Checks the man pages, the bash completion and docs/cli-json.md against the real binary.

The binary's --help is the truth for commands and flags, src/common/config.cpp (and the binary's
own config loader) for configuration keys. Each check is its own ctest entry:

  man-render   both pages render with groff -ww and man --warnings without a single warning
  man-help     every command and long flag of `liaison ... --help` is in liaison(8), in that
               command's subsection and its SYNOPSIS, and every flag there exists in the help
  config-keys  liaison.toml(5) documents exactly the keys config.cpp accepts, with the defaults
               of packaging/liaison.toml and config.h; the binary accepts every documented key,
               value and range and refuses the wrong types, values, ranges and unknown keys
  completion   packaging/completion/liaison.bash completes every command, subcommand, flag and
               choice the help lists, driven through COMP_WORDS/COMP_CWORD in `bash --norc`
  cli-json     docs/cli-json.md has a section for every command with --json, valid JSON examples
  install      `DESTDIR=tmp cmake --install BUILD` puts pages and completion where they belong

Usage: check_docs.py CHECK --liaison BIN --source-dir DIR --build-dir DIR
"""

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

FAILURES = []
PRIVATE_COPIES = {}  # a binary nobody cannot reach -> its copy in a test directory


def fail(message):
    FAILURES.append(message)
    print(f"FAIL: {message}")


def expect(condition, message):
    if not condition:
        fail(message)
    return condition


# --- the binary's help --------------------------------------------------------------------------

def run_help(binary, path):
    done = subprocess.run([binary, *path, "--help"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise SystemExit(f"`liaison {' '.join(path)} --help` exited {done.returncode}: {done.stderr}")
    return done.stdout


def parse_help(text):
    """CLI11 help: ({long flag: [choices] or None}, [subcommands])."""
    flags, subcommands, section = {}, [], None
    for line in text.splitlines():
        if re.match(r"^\S.*:$", line):
            section = line[:-1]
            continue
        if section == "Options":
            m = re.match(r"^  (-\S+)(?:\s+(\S+))?", line)
            if m:
                choices = re.search(r":\{([^}]*)\}", m.group(2) or "")
                for name in m.group(1).split(","):
                    if name.startswith("--"):
                        flags[name] = choices.group(1).split(",") if choices else None
        elif section == "Subcommands":
            m = re.match(r"^  (\S+)", line)
            if m:
                subcommands.append(m.group(1))
    return flags, subcommands


def help_tree(binary):
    """{"notify": flags, "key sign": flags, ...} for every leaf command, and the top-level list."""
    _, top = parse_help(run_help(binary, []))
    leaves = {}

    def walk(path):
        flags, subs = parse_help(run_help(binary, path))
        if subs:
            for sub in subs:
                walk(path + [sub])
        else:
            leaves[" ".join(path)] = flags

    for command in top:
        walk([command])
    return top, leaves


# --- liaison(8) ---------------------------------------------------------------------------------

def unescape(text):
    return text.replace("\\-", "-")


def long_flags(text):
    return {unescape(f) for f in re.findall(r"\\-\\-[a-z]+(?:\\-[a-z]+)*", text)}


def man_sections(source):
    """{".SH name": text} of a roff page."""
    sections, name = {}, None
    for line in source.splitlines(keepends=True):
        m = re.match(r'^\.SH\s+"?([^"\n]*)"?', line)
        if m:
            name = m.group(1)
            sections[name] = ""
        elif name:
            sections[name] += line
    return sections


def man_command_blocks(commands_section):
    """{"notify": text, "key sign": text, ...} from the .SS "liaison ..." subsections, and the
    text of the subsection of options common to every command."""
    blocks, common, current = {}, "", None
    for line in commands_section.splitlines(keepends=True):
        m = re.match(r'^\.SS\s+"?([^"\n]*)"?', line)
        if m:
            title = unescape(m.group(1))
            current = title[len("liaison "):] if title.startswith("liaison ") else ""
            if current:
                blocks[current] = ""
            continue
        if current:
            blocks[current] += line
        elif current == "":
            common += line
    return blocks, common


def man_synopsis(synopsis_section):
    """{"notify": flags, ...} from the .SY ... .YS blocks of the SYNOPSIS."""
    result = {}
    for block in re.findall(r"^\.SY liaison\n(.*?)^\.YS", synopsis_section, re.S | re.M):
        words = []
        for line in block.splitlines():
            if line.startswith(".B ") and not words:
                words = unescape(line[3:]).split()
            elif line.startswith(".BR ") and len(words) == 1 and "|" in line:
                # launch-agent install|uninstall|status
                words = [words[0] + " " + sub for sub in unescape(line[4:]).split(" | ")]
                break
        if not words:
            continue  # liaison [-h|--help]
        paths = words if " " in words[0] and len(words) > 1 else [" ".join(words)]
        for path in paths:
            result[path] = long_flags(block)
    return result


def check_man_help(args):
    top, leaves = help_tree(args.liaison)
    source = (args.source_dir / "docs/man/liaison.8").read_text()
    sections = man_sections(source)
    blocks, common = man_command_blocks(sections.get("COMMANDS", ""))
    synopsis = man_synopsis(sections.get("SYNOPSIS", ""))
    print(f"help: {len(leaves)} commands; liaison(8): {len(blocks)} command subsections, "
          f"{len(synopsis)} synopsis lines")

    for path in leaves:
        expect(path in blocks, f"`liaison {path}` is in the help but has no "
                               f'.SS "liaison {path}" in liaison(8)')
        expect(path in synopsis, f"`liaison {path}` is in the help but not in the SYNOPSIS")
    for path in blocks:
        expect(path in leaves, f"liaison(8) documents `liaison {path}`, which `liaison --help` "
                               f"does not list (not in the binary, or renamed)")
    for path in synopsis:
        expect(path in leaves, f"the SYNOPSIS shows `liaison {path}`, which the help does not list")
    for command in top:
        expect(re.search(rf"^\.SS \"liaison {re.escape(command)}\b", unescape(source), re.M),
               f"top-level command `{command}` has no subsection in liaison(8)")

    for path, flags in leaves.items():
        wanted = set(flags) - {"--help"}
        for where, documented in (("subsection", long_flags(blocks.get(path, ""))),
                                  ("SYNOPSIS", synopsis.get(path, set()))):
            if path not in blocks and where == "subsection":
                continue
            if path not in synopsis and where == "SYNOPSIS":
                continue
            for flag in sorted(wanted - documented):
                fail(f"`liaison {path} {flag}` is in the help but not in liaison(8)'s {where} "
                     f"of `liaison {path}`")
            for flag in sorted(documented - set(flags)):
                fail(f"liaison(8)'s {where} of `liaison {path}` names {flag}, which "
                     f"`liaison {path} --help` does not have")
    every_flag = set().union(*(set(f) for f in leaves.values()))
    for flag in sorted(long_flags(common) - every_flag):
        fail(f"liaison(8)'s common options name {flag}, which no command has")
    expect("--help" in long_flags(common), "liaison(8) does not document --help")


# --- liaison.toml(5) and the config parser ------------------------------------------------------

def code_config_keys(source_dir):
    """{"agent": {"launch"}, ...}: what config.cpp's readers accept (refuse_unknown lists)."""
    code = (source_dir / "src/common/config.cpp").read_text()
    dispatch = dict(re.findall(r'name == "(\w+)"\)\s*\{\s*status = (read_\w+)\(', code))
    known = dict(re.findall(
        r"Status (read_\w+)\(const TableReader& table, Config::\w+& \w+\) \{\s*"
        r"if \(auto s =\s*table\.refuse_unknown\(\{([^}]*)\}\)", code))
    if not dispatch or set(dispatch.values()) != set(known):
        raise SystemExit("cannot read the sections and known keys from src/common/config.cpp "
                         f"(dispatch {dispatch}, readers {sorted(known)}): update this parser")
    return {section: set(re.findall(r'"(\w+)"', known[reader]))
            for section, reader in dispatch.items()}


def code_config_defaults(source_dir):
    """{"agent.launch": "exec", ...} from the member initializers of config.h (Linux values)."""
    header = (source_dir / "src/common/config.h").read_text()
    constants = {}
    for name, value in re.findall(r"#else\s*inline constexpr \w+ (\w+) = (\d+);", header):
        constants[name] = int(value)
    defaults = {}
    for body, section in re.findall(r"struct \w+ \{(.*?)\} (\w+);", header, re.S):
        for member, value in re.findall(r"^\s*[\w:]+ (\w+) = ([^;]+);", body, re.M):
            value = value.strip()
            if value.startswith('"'):
                parsed = value.strip('"')
            elif value in ("true", "false"):
                parsed = value == "true"
            elif value.isdigit():
                parsed = int(value)
            else:
                parsed = constants.get(value, value)
            defaults[f"{section}.{member}"] = parsed
    return defaults


def page_config_keys(source):
    """{"agent.launch": {"default": "exec", "type": "string", "choices": [...], "range": ...}}."""
    keys, section = {}, None
    for line in source.splitlines():
        m = re.match(r'^\.SS\s+"\[(\w+)\]"', line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^\\fB(\w+)\\fR = (.*?)  \((.*)\)$", line)
        if m and section:
            name, default, kind = m.group(1), unescape(m.group(2)), unescape(m.group(3))
            entry = {"default": tomllib.loads(f"v = {default}")["v"], "toml": default,
                     "type": kind.split(":")[0].split(",")[0].strip()}
            if ":" in kind:
                entry["choices"] = re.findall(r"\\fB([^\\]+)\\fR", unescape(m.group(3)))
            r = re.search(r"(\d+) to (\d+)", kind)
            if r:
                entry["range"] = (int(r.group(1)), int(r.group(2)))
            keys[f"{section}.{name}"] = entry
    return keys


def load_config_with_binary(binary, text, work):
    """Runs `liaison daemon --config FILE` as an unprivileged user: it loads the file first and
    then refuses to run as non-root, which is the cheapest way to load only the config. Returns
    (accepted, stderr)."""
    binary = PRIVATE_COPIES.get(binary, binary)
    path = work / "liaison.toml"
    path.write_text(text)
    path.chmod(0o644)

    def drop_privileges():
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        if os.geteuid() == 0:
            raise SystemExit("still root")

    command = [binary, "daemon", "--config", str(path), "--runtime-dir", str(work / "run"),
               "--state-dir", str(work / "state")]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30,
                              preexec_fn=drop_privileges,
                              env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    except PermissionError:
        # The build directory is not open to nobody (a build under /root): use a copy, with
        # the modules where the binary looks for them (../lib/liaison: src/cli/modules.h).
        copy = work / "bin" / "liaison"
        if Path(binary) == copy:
            raise
        copy.parent.mkdir(mode=0o755)
        shutil.copy(binary, copy)
        shutil.copytree(Path(binary).parent.parent / "lib" / "liaison", work / "lib" / "liaison")
        PRIVATE_COPIES[binary] = str(copy)
        return load_config_with_binary(str(copy), text, work)
    if done.returncode != 1:
        fail(f"liaison daemon --config exited {done.returncode} for {text!r}: {done.stderr}")
    return "must run as root" in done.stderr, done.stderr.strip()


def check_config_keys(args):
    code = code_config_keys(args.source_dir)
    code_flat = {f"{s}.{k}" for s, keys in code.items() for k in keys}
    packaged = tomllib.loads((args.source_dir / "packaging/liaison.toml").read_text())
    packaged_flat = {f"{s}.{k}": v for s, table in packaged.items() for k, v in table.items()}
    defaults = code_config_defaults(args.source_dir)
    page = page_config_keys((args.source_dir / "docs/man/liaison.toml.5").read_text())
    print(f"config.cpp: {len(code_flat)} keys; packaging/liaison.toml: {len(packaged_flat)}; "
          f"liaison.toml(5): {len(page)}")

    for key in sorted(code_flat - set(page)):
        fail(f"config.cpp accepts {key}, which liaison.toml(5) does not document")
    for key in sorted(set(page) - code_flat):
        fail(f"liaison.toml(5) documents {key}, which config.cpp does not accept")
    for key in sorted(code_flat ^ set(packaged_flat)):
        fail(f"{key} is in only one of config.cpp and packaging/liaison.toml")
    for key, entry in sorted(page.items()):
        if key in packaged_flat:
            expect(entry["default"] == packaged_flat[key],
                   f"liaison.toml(5) says {key} = {entry['toml']}, packaging/liaison.toml says "
                   f"{packaged_flat[key]!r}")
        if key in defaults:
            expect(entry["default"] == defaults[key],
                   f"liaison.toml(5) says {key} = {entry['toml']}, config.h says {defaults[key]!r}")

    # The real loader: every documented key, value and bound is accepted; the rest refused.
    wrong_type = {"boolean": ('"yes"', "must be a boolean"), "string": ("1", "must be a string"),
                  "integer": ('"1"', "must be an integer")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        work.chmod(0o755)

        def accepted(section, name, value, why):
            ok, stderr = load_config_with_binary(args.liaison, f"[{section}]\n{name} = {value}\n",
                                                 work)
            expect(ok, f"the binary refused {section}.{name} = {value} ({why}): {stderr}")

        def refused(section, name, value, message):
            ok, stderr = load_config_with_binary(args.liaison, f"[{section}]\n{name} = {value}\n",
                                                 work)
            expect(not ok and message in stderr,
                   f"the binary did not refuse {section}.{name} = {value} with “{message}”: "
                   f"{stderr}")

        for key, entry in sorted(page.items()):
            section, name = key.split(".")
            accepted(section, name, entry["toml"], "the documented default")
            for choice in entry.get("choices", []):
                accepted(section, name, f'"{choice}"', "a documented choice")
            if entry.get("choices"):
                refused(section, name, '"no-such-value"', f"{key} = \"no-such-value\" is not one of")
            if "range" in entry:
                low, high = entry["range"]
                accepted(section, name, low, "the documented minimum")
                accepted(section, name, high, "the documented maximum")
                if low > 0:
                    refused(section, name, low - 1, f"{key} = {low - 1} is out of range")
                refused(section, name, high + 1, f"{key} = {high + 1} is out of range")
            if expect(entry["type"] in wrong_type, f"{key}: unknown type {entry['type']!r}"):
                value, message = wrong_type[entry["type"]]
                refused(section, name, value, f"{key} {message}")
            refused(section, name + "_typo", entry["toml"], f"unknown key {key}_typo")
        everything = "".join(
            f"[{s}]\n" + "".join(f"{k.split('.')[1]} = {e['toml']}\n"
                                 for k, e in page.items() if k.startswith(s + "."))
            for s in sorted({k.split(".")[0] for k in page}))
        ok, stderr = load_config_with_binary(args.liaison, everything, work)
        expect(ok, f"the binary refused the page's defaults all at once: {stderr}")
        ok, stderr = load_config_with_binary(args.liaison, "[no_such_section]\n", work)
        expect(not ok and "unknown section [no_such_section]" in stderr,
               f"an unknown section was not refused by name: {stderr}")


# --- bash completion ----------------------------------------------------------------------------

def complete(source_dir, queries):
    """Runs _liaison for each query (a list of words, the last one being completed) in one
    `bash --norc` and returns the candidates of each."""
    script = [f"source {str(source_dir / 'packaging/completion/liaison.bash')!r} || exit 9",
              "complete -p liaison || exit 8"]
    for index, words in enumerate(queries):
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
        script.append(f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
                      f"COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; "
                      f"COMPREPLY=(); _liaison; "
                      f"printf '@%d\\n' {index}; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    done = subprocess.run(["bash", "--norc", "--noprofile"], input="\n".join(script) + "\n",
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise SystemExit(f"bash exited {done.returncode}: {done.stderr}")
    lines = done.stdout.splitlines()
    if not lines or "-F _liaison" not in lines[0] or not lines[0].endswith(" liaison"):
        raise SystemExit(f"`complete -p liaison` printed {lines[:1]}")
    results, current = [[] for _ in queries], None
    for line in lines[1:]:
        if re.fullmatch(r"@\d+", line):
            current = int(line[1:])
        elif current is not None and line:
            results[current].append(line)
    if done.stderr.strip():
        fail(f"completion wrote to stderr: {done.stderr.strip()}")
    return results


def check_completion(args):
    top, leaves = help_tree(args.liaison)
    page_blocks, _ = man_command_blocks(
        man_sections((args.source_dir / "docs/man/liaison.8").read_text()).get("COMMANDS", ""))
    users = sorted(line.split(":")[0] for line in subprocess.run(
        ["getent", "passwd"], capture_output=True, text=True).stdout.splitlines()
        if 1000 <= int(line.split(":")[2]) < 65534)
    tmp = Path(tempfile.mkdtemp())
    (tmp / "challenge.bin").write_bytes(b"x")
    (tmp / "config.toml").write_text("")
    try:
        cases = []  # (words, check(result) -> message or None)

        def exactly(words, wanted, why):
            cases.append((words, lambda got: None if sorted(got) == sorted(wanted) else
                          f"{why}: `{' '.join(words)}<TAB>` gave {sorted(got)}, "
                          f"wanted {sorted(wanted)}"))

        def includes(words, wanted, why):
            cases.append((words, lambda got: None if set(wanted) <= set(got) else
                          f"{why}: `{' '.join(words)}<TAB>` gave {sorted(got)}, "
                          f"missing {sorted(set(wanted) - set(got))}"))

        exactly(["liaison", "ke"], ["key"], "a command")
        exactly(["liaison", "key", ""], ["create", "list", "public", "sign", "delete", "attest"],
                "the key subcommands")
        exactly(["liaison", "notify", "--urg"], ["--urgency"], "a flag")
        exactly(["liaison", "notify", "--urgency", ""], ["low", "normal", "critical"],
                "--urgency values")
        exactly(["liaison", "notify", "--urgency", "=", ""], ["low", "normal", "critical"],
                "--urgency= values")
        exactly(["liaison", "notify", "--title", "hi", "--urgency", "c"], ["critical"],
                "a value after other flags")
        exactly(["liaison", "daemon", "--log-level", ""], ["debug", "info", "warning", "error"],
                "--log-level values")
        exactly(["liaison", "notify", "--user", ""], users, "--user: accounts with uid >= 1000")
        exactly(["liaison", "key", "list", "--user", ""], users, "--user of key list")
        for flag, words in (("--in", ["key", "sign"]), ("--out", ["key", "public"]),
                            ("--config", ["daemon"])):
            includes(["liaison", *words, "--user", "alice", flag, str(tmp) + "/"],
                     [str(tmp / "challenge.bin"), str(tmp / "config.toml")], f"{flag} files")
        # Every command, subcommand, flag and choice that the help lists.
        includes(["liaison", ""], top, "the commands of `liaison --help`")
        commands = set(top) | {p.split()[0] for p in page_blocks}
        cases.append((["liaison", ""], lambda got: None if set(got) <= commands else
                      f"the completion offers commands neither the help nor liaison(8) has: "
                      f"{sorted(set(got) - commands)}"))
        for path, flags in leaves.items():
            words = path.split()
            if len(words) == 2:
                includes(["liaison", words[0], words[1][:2]], [words[1]],
                         f"subcommand `{path}`")
            exactly(["liaison", *words, "--"], flags, f"the flags of `liaison {path} --help`")
            for flag, choices in flags.items():
                if choices:
                    exactly(["liaison", *words, flag, ""], choices, f"the choices of {flag}")
        for path in sorted(set(page_blocks) - set(leaves)):  # documented, not in the binary yet
            includes(["liaison", *path.split()[:1]], path.split()[:1], f"`liaison {path}`")

        results = complete(args.source_dir, [words for words, _ in cases])
        for (words, judge), got in zip(cases, results):
            message = judge(got)
            if message:
                fail(message)
        print(f"{len(cases)} completions checked")
    finally:
        shutil.rmtree(tmp)


# --- docs/cli-json.md ---------------------------------------------------------------------------

def check_cli_json(args):
    import json
    _, leaves = help_tree(args.liaison)
    text = (args.source_dir / "docs/cli-json.md").read_text()
    # `liaison launch-agent install|uninstall|status --json` heads three commands.
    headed = set()
    for span in re.findall(r"^#+ .*?`liaison ([^`]*)`", text, re.M):
        words = [w.split("|") for w in span.split() if not w.startswith("-")]
        paths = [[]]
        for alternatives in words:
            paths = [p + [a] for p in paths for a in alternatives]
        headed |= {" ".join(p[:n]) for p in paths for n in (1, 2)}
    for path, flags in sorted(leaves.items()):
        if "--json" in flags:
            expect(path in headed,
                   f"`liaison {path}` has --json but docs/cli-json.md has no heading for it")
    expect("doctor" in headed, "docs/cli-json.md has no heading for `liaison doctor`")
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    expect(len(blocks) >= 8, f"docs/cli-json.md has only {len(blocks)} JSON examples")
    for block in blocks:
        try:
            json.loads(block)
        except json.JSONDecodeError as error:
            fail(f"a JSON example in docs/cli-json.md does not parse ({error}):\n{block}")
    for doc in ("README.md", "docs/protocol.md"):
        expect("cli-json.md" in (args.source_dir / doc).read_text(),
               f"{doc} does not link docs/cli-json.md")
    print(f"{len(blocks)} JSON examples parsed")


# --- rendering ----------------------------------------------------------------------------------

def check_man_render(args):
    version = re.search(r"project\(liaison VERSION ([\d.]+)",
                        (args.source_dir / "CMakeLists.txt").read_text()).group(1)
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", MANWIDTH="80")
    for tool, package in (("groff", "groff-base"), ("man", "man-db")):
        if not shutil.which(tool):
            raise SystemExit(f"FAIL: {tool} is not installed (apt-get install {package})")
    for name in ("liaison.8", "liaison.toml.5"):
        page = args.source_dir / "docs/man" / name
        for device in ("utf8", "ascii"):
            done = subprocess.run(["groff", "-man", "-ww", "-z", f"-T{device}", str(page)],
                                  capture_output=True, text=True, env=env)
            expect(done.returncode == 0 and not done.stdout and not done.stderr,
                   f"groff -man -ww -T{device} {name}: {done.stdout}{done.stderr}")
        done = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True,
                              text=True, env=env)
        expect(done.returncode == 0 and not done.stderr,
               f"man --warnings -l {name}: {done.stderr}")
        expect("COMMANDS" in done.stdout or "SECTIONS AND KEYS" in done.stdout,
               f"man -l {name} rendered no body")
        th = re.search(r'^\.TH .*"liaison ([\d.]+)"', page.read_text(), re.M)
        expect(th and th.group(1) == version,
               f"{name}'s .TH names version {th and th.group(1)}, the project is {version}")


# --- install ------------------------------------------------------------------------------------

def check_install(args):
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["cmake", "--install", str(args.build_dir)], capture_output=True,
                              text=True, env=dict(os.environ, DESTDIR=tmp), timeout=120)
        if not expect(done.returncode == 0, f"cmake --install failed: {done.stderr}"):
            return
        root = Path(tmp)
        for name, section in (("liaison.8", "man8"), ("liaison.toml.5", "man5")):
            source = (args.source_dir / "docs/man" / name).read_bytes()
            gz = root / "usr/share/man" / section / (name + ".gz")
            plain = root / "usr/share/man" / section / name
            if gz.exists():
                raw = gz.read_bytes()
                expect(raw[4:8] == b"\0\0\0\0" and not raw[3] & 0x08,
                       f"{gz.name} carries a time stamp or a name (not gzip -n)")
                expect(gzip.decompress(raw) == source,
                       f"{gz} is not docs/man/{name} (a stale build? rebuild first)")
                done = subprocess.run(["man", "--warnings", "-l", str(gz)], capture_output=True,
                                      text=True, env=dict(os.environ, LANG="C.UTF-8",
                                                          MANWIDTH="80"))
                expect(done.returncode == 0 and not done.stderr and "liaison" in done.stdout,
                       f"the installed {gz.name} does not render: {done.stderr}")
            else:
                expect(plain.exists() and plain.read_bytes() == source,
                       f"neither {gz} nor {plain} was installed from docs/man/{name}")
        completion = root / "usr/share/bash-completion/completions/liaison"
        expect(completion.exists() and completion.read_bytes() ==
               (args.source_dir / "packaging/completion/liaison.bash").read_bytes(),
               f"{completion} was not installed from packaging/completion/liaison.bash")
        for path in ("usr/bin/liaison", "usr/lib/liaison/liaison-daemon.so",
                     "usr/lib/liaison/liaison-agent.so", "usr/lib/liaison/liaison-agent-keys.so",
                     "usr/lib/systemd/system/liaison.service", "etc/liaison/liaison.toml"):
            expect((root / path).exists(), f"{path} was not installed")
        # The installed binary finds its installed service module: `liaison agent` by hand gets
        # as far as the agent's own refusal ("not by hand"; from a desktop's terminal, which
        # runs in a user unit, it tries the daemon's socket instead), never a loader error.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LIAISON_", "XDG_"))}
        env["LIAISON_AGENT_SOCKET"] = str(root / "no-daemon.sock")
        done = subprocess.run([str(root / "usr/bin/liaison"), "agent"], capture_output=True,
                              text=True, env=env, timeout=30)
        loader_errors = ("cannot load", "liaison's module", "reinstall liaison")
        expect(done.returncode != 0 and not any(e in done.stderr for e in loader_errors),
               f"the installed liaison agent did not run its module: {done.returncode} "
               f"{done.stderr}")


CHECKS = {"man-render": check_man_render, "man-help": check_man_help,
          "config-keys": check_config_keys, "completion": check_completion,
          "cli-json": check_cli_json, "install": check_install}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("check", choices=sorted(CHECKS))
    parser.add_argument("--liaison", required=True)
    parser.add_argument("--source-dir", type=Path, required=True)
    parser.add_argument("--build-dir", type=Path, required=True)
    args = parser.parse_args()
    CHECKS[args.check](args)
    if FAILURES:
        print(f"{args.check}: {len(FAILURES)} failure(s)")
        return 1
    print(f"{args.check}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
