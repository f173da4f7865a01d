"""A port squatter: a real local server speaking PostgreSQL's wire protocol, for the SCRAM tests.

It answers the startup message with AuthenticationCleartextPassword (what any process can do on
the port while the stack is down) and records what the client sends back.
"""

from __future__ import annotations

import socket
import struct
import threading

PASSWORD = "s3cret-squatted"
# AuthenticationRequest (R), length 8, code 3: "send me your password in clear text".
CLEARTEXT_REQUEST = b"R" + struct.pack("!ii", 8, 3)


class Squatter:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(5)
            length = struct.unpack("!i", conn.recv(4))[0]
            startup = conn.recv(length - 4)
            if struct.unpack("!i", startup[:4])[0] == 80877103:  # SSLRequest: no SSL here
                conn.sendall(b"N")
                length = struct.unpack("!i", conn.recv(4))[0]
                conn.recv(length - 4)
            conn.sendall(CLEARTEXT_REQUEST)
            try:
                while chunk := conn.recv(4096):
                    self.received += chunk
            except OSError:
                pass

    def close(self) -> None:
        self.thread.join(timeout=5)
        self.sock.close()
