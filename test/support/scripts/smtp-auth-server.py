"""A real SMTP server that requires a login (aiosmtpd, as the stack's sink, plus AUTH):
`python3 smtp-auth-server.py <port> <user> <password>`; prints "ready" once it listens."""
import logging
import signal
import warnings
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

warnings.simplefilter("ignore")  # "AUTH without TLS": on purpose, on loopback
logging.disable(logging.WARNING)

port, user, password = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
    # handled=False: the server answers 535 itself (its default would send nothing and wait).
    return AuthResult(success=ok, handled=False)


controller = Controller(Sink(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False, auth_required=True)
controller.start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
