"""A fake systemd user manager on a unix socket, raw D-Bus with no library: what any user can
serve at /run/user/UID/systemd/private after moving the real socket aside (the directory is
theirs). Usage: fake_user_manager.py SOCKET_PATH VICTIM_PID SECONDS.

It says the agent's unit is active and running with MainPID = VICTIM_PID (any process on the
machine), and refuses every job (StopUnit, KillUnit, StartTransientUnit, ...) with AccessDenied.
Run inside the e2e container by tests/e2e/test_hardening.py, as the attacking user.
"""
import socket
import struct
import sys
import threading
import time

path, victim, lifetime = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


def pad(data, alignment):
    return data + b"\0" * (-len(data) % alignment)


def string(value, kind="s"):
    raw = value.encode()
    if kind == "g":
        return bytes([len(raw)]) + raw + b"\0"
    return struct.pack("<I", len(raw)) + raw + b"\0"


def message(kind, serial, fields, signature=b"", body=b""):
    header_fields = b""
    for code, type_code, value in fields:
        header_fields = pad(header_fields, 8)
        header_fields += bytes([code]) + string(type_code, "g")
        if type_code == "u":
            header_fields = pad(header_fields, 4) + struct.pack("<I", value)
        elif type_code == "g":
            header_fields += string(value, "g")
        else:
            header_fields = pad(header_fields, 4) + string(value)
    if signature:
        header_fields = pad(header_fields, 8) + bytes([8]) + string("g", "g") + string(signature, "g")
    fixed = struct.pack("<cBBBII", b"l", kind, 0, 1, len(body), serial)
    header = fixed + struct.pack("<I", len(header_fields)) + header_fields
    return pad(header, 8) + body


def parse_fields(data):
    fields, offset = {}, 0
    while offset < len(data):
        offset += -offset % 8
        code = data[offset]
        sig_len = data[offset + 1]
        sig = data[offset + 2:offset + 2 + sig_len].decode()
        offset += 3 + sig_len
        if sig in ("s", "o"):
            offset += -offset % 4
            (length,) = struct.unpack_from("<I", data, offset)
            fields[code] = data[offset + 4:offset + 4 + length].decode()
            offset += 5 + length
        elif sig == "g":
            length = data[offset]
            fields[code] = data[offset + 1:offset + 1 + length].decode()
            offset += 2 + length
        elif sig == "u":
            offset += -offset % 4
            (fields[code],) = struct.unpack_from("<I", data, offset)
            offset += 4
        else:
            break
    return fields


def strings(body):
    values, offset = [], 0
    while offset + 4 <= len(body):
        offset += -offset % 4
        (length,) = struct.unpack_from("<I", body, offset)
        values.append(body[offset + 4:offset + 4 + length].decode())
        offset += 5 + length
    return values


PROPERTIES = {"LoadState": ("s", "loaded"), "ActiveState": ("s", "active"),
              "SubState": ("s", "running"), "MainPID": ("u", victim)}


def answer(fields, body, serial, next_serial):
    member, reply_to = fields.get(3), [(5, "u", serial)]
    if member in ("LoadUnit", "GetUnit"):
        return message(2, next_serial, reply_to, "o",
                       string("/org/freedesktop/systemd1/unit/agent", "o"))
    if member == "Get":
        name = strings(body)[1] if len(strings(body)) > 1 else ""
        if name in PROPERTIES:
            kind, value = PROPERTIES[name]
            encoded = string(kind, "g")
            encoded = pad(encoded, 4) + (struct.pack("<I", value) if kind == "u" else string(value))
            return message(2, next_serial, reply_to, "v", encoded)
    error = "org.freedesktop.DBus.Error.AccessDenied"
    return message(3, next_serial, [(4, "s", error), *reply_to], "s", string("refused"))


def serve(connection):
    buffer = b""
    while b"BEGIN\r\n" not in buffer:
        chunk = connection.recv(4096)
        if not chunk:
            return
        buffer += chunk
    # "AUTH EXTERNAL" with no initial response (as sd-bus sends it) is answered with an empty
    # challenge; the client's empty "DATA" then gets the OK.
    replies = b"DATA\r\n" if b"AUTH EXTERNAL\r\n" in buffer else b""
    replies += b"OK 0123456789abcdef0123456789abcdef\r\n"
    if b"NEGOTIATE_UNIX_FD" in buffer:
        replies += b"AGREE_UNIX_FD\r\n"
    connection.sendall(replies)
    buffer = buffer[buffer.index(b"BEGIN\r\n") + 7:]
    serial = 1000
    while True:
        while len(buffer) < 16:
            chunk = connection.recv(65536)
            if not chunk:
                return
            buffer += chunk
        _, kind, _, _, body_length, call_serial, fields_length = struct.unpack_from("<cBBBIII", buffer)
        total = 16 + fields_length + (-(16 + fields_length) % 8) + body_length
        while len(buffer) < total:
            chunk = connection.recv(65536)
            if not chunk:
                return
            buffer += chunk
        fields = parse_fields(buffer[16:16 + fields_length])
        body = buffer[total - body_length:total]
        buffer = buffer[total:]
        if kind == 1:
            serial += 1
            connection.sendall(answer(fields, body, call_serial, serial))


server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(64)
server.settimeout(1)
deadline = time.monotonic() + lifetime
while time.monotonic() < deadline:
    try:
        connection, _ = server.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
