#!/usr/bin/python3
"""scripts/macos-bundle.sh and tests/macos/check_bundle.py, without a Mac or an SDK: the bundle is
laid out around a stand-in binary (layout only), passes, and each kind of drift a Mac would
punish -- a missing program, a plist launchd cannot parse, a wrong mode, a job pointing outside
the bundle -- makes the check fail and say what.
Usage: check_bundle_test.py SOURCE_DIR SCRATCH_DIR
"""
import plistlib
import shutil
import struct
import subprocess
import sys
import unittest
from pathlib import Path

SOURCE = Path(sys.argv[1])
SCRATCH = Path(sys.argv[2])
STAND_IN = SOURCE / "tests/macos/launchctl_standin.sh"
APP = "root/Applications/Liaison.app"


class BundleTest(unittest.TestCase):
    def setUp(self):
        shutil.rmtree(SCRATCH, ignore_errors=True)
        made = subprocess.run([SOURCE / "scripts/macos-bundle.sh", SCRATCH, STAND_IN],
                              capture_output=True, text=True)
        self.assertEqual(made.returncode, 0, made.stderr)
        self.assertIn("layout only", made.stdout)
        self.bundle = SCRATCH / "bundle"

    def check(self):
        return subprocess.run(
            [sys.executable, SOURCE / "tests/macos/check_bundle.py", "--bundle", self.bundle,
             "--version", "0.1.0", "--layout-only"], capture_output=True, text=True)

    def assert_fails_with(self, text):
        checked = self.check()
        self.assertEqual(checked.returncode, 1, checked.stdout)
        self.assertIn(text, checked.stderr)

    def test_a_fresh_layout_passes(self):
        self.assertEqual(self.check().returncode, 0)

    def test_a_missing_app_executable_fails(self):
        (self.bundle / APP / "Contents/MacOS/liaison").unlink()
        self.assert_fails_with("missing: Applications/Liaison.app/Contents/MacOS/liaison")

    def test_a_plist_that_does_not_parse_fails(self):
        (self.bundle / "root/Library/LaunchDaemons/dev.liaison.daemon.plist").write_text("<plist")
        self.assert_fails_with("does not parse as a plist")

    def test_a_group_writable_plist_fails(self):
        (self.bundle / "root/Library/LaunchAgents/dev.liaison.agent.plist").chmod(0o664)
        self.assert_fails_with("dev.liaison.agent.plist: mode 0o100664, wanted 0o644")

    def test_a_job_running_a_program_outside_the_payload_fails(self):
        path = self.bundle / "root/Library/LaunchAgents/dev.liaison.agent.plist"
        job = plistlib.loads(path.read_bytes())
        job["ProgramArguments"][0] = "/Applications/Other.app/Contents/MacOS/liaison"
        path.write_bytes(plistlib.dumps(job))
        self.assert_fails_with("not an executable in the payload")

    def test_a_version_other_than_the_projects_fails(self):
        checked = subprocess.run(
            [sys.executable, SOURCE / "tests/macos/check_bundle.py", "--bundle", self.bundle,
             "--version", "9.9.9", "--layout-only"], capture_output=True, text=True)
        self.assertEqual(checked.returncode, 1)
        self.assertIn("version 0.1.0, project 9.9.9", checked.stderr)

    def test_a_universal_mach_o_header_passes_the_full_check(self):
        # The header of a fat file of arm64 and x86_64 slices, as llvm-lipo -create writes it.
        fat = struct.pack(">II", 0xCAFEBABE, 2) + struct.pack(">5I", 0x0100000C, 0, 16384, 1, 14) \
            + struct.pack(">5I", 0x01000007, 3, 32768, 1, 14)
        for binary in (APP + "/Contents/MacOS/liaison", "root/usr/local/bin/liaison"):
            (self.bundle / binary).write_bytes(fat)
        self.bundle.joinpath(next(self.bundle.glob("*.tar.gz")).name).unlink()
        subprocess.run(["tar", "--create", "--gzip", "--file",
                        self.bundle / "liaison-0.1.0-macos.tar.gz", "--owner=root:0",
                        "--group=wheel:0", "--directory", self.bundle, "root", "signing"],
                       check=True)
        checked = subprocess.run(
            [sys.executable, SOURCE / "tests/macos/check_bundle.py", "--bundle", self.bundle,
             "--version", "0.1.0"], capture_output=True, text=True)
        self.assertEqual(checked.returncode, 0, checked.stderr)

    def test_without_layout_only_a_non_mach_o_binary_fails(self):
        checked = subprocess.run(
            [sys.executable, SOURCE / "tests/macos/check_bundle.py", "--bundle", self.bundle,
             "--version", "0.1.0"], capture_output=True, text=True)
        self.assertEqual(checked.returncode, 1)
        self.assertIn("not a universal arm64 + x86_64 Mach-O", checked.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
