"""``inferencepool-webhook certs``: a CA and a serving certificate for the webhook.

For development and tests, and for clusters without cert-manager: the CA goes
into the webhook configuration's ``caBundle``, the pair into the Secret the
server mounts.
"""

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

from webhook import certs


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    parser = commands.add_parser(
        "certs",
        help="write a development CA, serving certificate and key",
        description="Write ca.crt, tls.crt and tls.key (mode 0600) into DIR. Without names, "
        "the certificate is for localhost, 127.0.0.1 and ::1.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="target directory")
    parser.add_argument(
        "--dns", action="append", default=[], metavar="NAME", help="DNS name (repeatable)"
    )
    parser.add_argument(
        "--ip", action="append", default=[], metavar="ADDR", help="IP address (repeatable)"
    )
    parser.add_argument("--service", metavar="NAME", help="in-cluster Service name")
    parser.add_argument("--namespace", metavar="NS", help="namespace of --service")
    parser.add_argument("--days", type=int, default=365, metavar="N", help="validity (default 365)")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if (args.service is None) != (args.namespace is None):
        return _usage("--service and --namespace go together")
    if args.days < 1:
        return _usage(f"--days {args.days}: expected at least 1")
    for address in args.ip:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return _usage(f"--ip {address!r}: expected an IPv4 or IPv6 address")

    dns: list[str] = list(args.dns)
    if args.service is not None:
        dns += certs.service_names(args.service, args.namespace)
    ips: list[str] = list(args.ip)
    if not dns and not ips:
        dns, ips = list(certs.DEFAULT_DNS), list(certs.DEFAULT_IPS)

    try:
        written = certs.write(certs.issue(dns, ips, args.days), args.out, force=args.force)
    except certs.CertificateExistsError as exc:
        sys.stderr.write(f"inferencepool-webhook certs: {exc}\n")
        return 1
    names = ", ".join([*dns, *ips])
    files = ", ".join(str(path) for path in written)
    sys.stdout.write(f"wrote {files} for {names}, valid {args.days} days\n")
    return 0


def _usage(message: str) -> int:
    sys.stderr.write(f"inferencepool-webhook certs: {message}\n")
    return 2
