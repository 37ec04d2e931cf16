"""``inferencepool-webhook certs``: a CA and a serving certificate for the webhook.

For development and tests, and for clusters without cert-manager: the CA goes
into the webhook configuration's ``caBundle``, the pair into the Secret the
server mounts.
"""

import argparse
import ipaddress
import re
import sys
from pathlib import Path
from typing import Any

from webhook import certs
from webhook.names import DNS_SUBDOMAIN

# A hundred years: past any sensible certificate, and well inside the dates
# X.509 and Python can write.
MAX_DAYS = 36500

_DNS_NAME = re.compile(DNS_SUBDOMAIN).fullmatch
# A namespace is an RFC 1123 label; a Service name an RFC 1035 one, which
# starts with a letter.
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?").fullmatch
_SERVICE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?").fullmatch


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
    parser.add_argument(
        "--keep-ca",
        action="store_true",
        help="also write the CA's key (ca.key, mode 0600); with --force, a CA kept in DIR "
        "signs the new certificate, so that what trusts the CA goes on trusting it",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if (args.service is None) != (args.namespace is None):
        return _usage("--service and --namespace go together")
    if not 1 <= args.days <= MAX_DAYS:
        return _usage(f"--days {args.days}: expected 1 to {MAX_DAYS}")
    for flag, values, valid, expected in (
        ("--dns", args.dns, _is_dns_name, "a lowercase DNS name such as wh.ns.svc"),
        ("--service", [args.service], _is_service, "a Service name (a DNS label, first a letter)"),
        ("--namespace", [args.namespace], _is_namespace, "a namespace (a lowercase DNS label)"),
    ):
        for value in values:
            if value is not None and not valid(value):
                return _usage(f"{flag} {value!r}: expected {expected}")
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

    kept = args.keep_ca and args.force and (args.out / certs.CA_KEY_FILE).exists()
    try:
        ca = certs.load_authority(args.out, args.days) if kept else None
    except certs.AuthorityError as exc:
        sys.stderr.write(f"inferencepool-webhook certs: {exc}\n")
        return 1
    bundle = certs.issue(dns, ips, args.days, ca, keep_ca_key=args.keep_ca)
    try:
        written = certs.write(bundle, args.out, force=args.force)
    except certs.CertificateExistsError as exc:
        sys.stderr.write(f"inferencepool-webhook certs: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"inferencepool-webhook certs: cannot write to {args.out}: {exc}\n")
        return 1
    names = ", ".join([*dns, *ips])
    files = ", ".join(str(path) for path in written)
    signer = "the CA kept there" if kept else "a new CA"
    sys.stdout.write(f"wrote {files} for {names}, valid {args.days} days, signed by {signer}\n")
    return 0


def _is_dns_name(value: str) -> bool:
    # A wildcard may stand for the leftmost label only, as in any certificate.
    name = value.removeprefix("*.")
    labels_fit = all(len(label) <= 63 for label in name.split("."))
    return len(value) <= 253 and labels_fit and _DNS_NAME(name) is not None


def _is_service(value: str) -> bool:
    return len(value) <= 63 and _SERVICE(value) is not None


def _is_namespace(value: str) -> bool:
    return len(value) <= 63 and _NAMESPACE(value) is not None


def _usage(message: str) -> int:
    sys.stderr.write(f"inferencepool-webhook certs: {message}\n")
    return 2
