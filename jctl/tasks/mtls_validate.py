"""mtlsValidate:v1 (dsl.md 18.7) with `cryptography`: the client certificate chain (`--client-cert FILE`, leaf
first) must verify to a trust anchor (the task's inline PEMs, else the profile's trustAnchorFiles), then the
subject, SAN and serial filters apply; otherwise allowAnyFromTrusted decides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jctl.tasks.inbound import config_path, problem, profile, write_view
from jctl.tasks.plugins import Issue, PluginError, TaskCall, TaskOutcome

if TYPE_CHECKING:
    from cryptography.x509 import Certificate


class MtlsFailure(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class MtlsValidate:
    kind = "mtlsValidate:v1"

    def check(self, task: dict[str, Any], spec_path: Path | None) -> Iterator[Issue]:
        from cryptography import x509

        for index, anchor in enumerate(task.get("trustAnchors") or []):
            pem = anchor.get("pem") if isinstance(anchor, dict) else None
            try:
                x509.load_pem_x509_certificate(str(pem).encode())
            except ValueError:
                yield ("trustAnchors", index), "this trust anchor is not a PEM certificate", \
                    "paste the whole -----BEGIN CERTIFICATE----- block under `pem`"

    def run(self, call: TaskCall) -> TaskOutcome:
        settings = profile(call, "mtlsValidate", "MTLS")
        anchors = self._anchors(call, settings)
        try:
            leaf = self._verified_leaf(call, anchors)
            self._filters(call.task, settings, leaf)
        except MtlsFailure as failure:
            view: dict[str, Any] = {"problem": problem("mtls", failure.code, "client certificate rejected",
                                                       failure.detail)}
            return self._done(call, view, failure.code)
        from cryptography.hazmat.primitives import hashes

        view = {"subjectDn": leaf.subject.rfc4514_string(), "issuerDn": leaf.issuer.rfc4514_string(),
                "fingerprintSha256": leaf.fingerprint(hashes.SHA256()).hex()}
        return self._done(call, view, "ok")

    @staticmethod
    def _anchors(call: TaskCall, settings: dict[str, Any]) -> list[Certificate]:
        from cryptography import x509

        try:
            inline = call.task.get("trustAnchors")
            if inline:
                return [x509.load_pem_x509_certificate(str(a["pem"]).encode()) for a in inline]
            found = [cert for name in settings.get("trustAnchorFiles") or []
                     for cert in x509.load_pem_x509_certificates(config_path(call, name).read_bytes())]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PluginError("MTLS_CONFIG_TRUST_ANCHORS_INVALID", f"mtlsValidate trust anchors: {exc}") from None
        if not found:
            raise PluginError("MTLS_CONFIG_TRUST_ANCHORS_INVALID", "no trust anchors: set task.trustAnchors or the "
                              "profile's trustAnchorFiles")
        return found

    @staticmethod
    def _verified_leaf(call: TaskCall, anchors: list[Certificate]) -> Certificate:
        from cryptography import x509
        from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

        presented = call.request.client_cert if call.request is not None else None
        if not presented:
            raise MtlsFailure("MTLS_CERT_MISSING", "no client certificate was presented")
        try:
            chain = x509.load_pem_x509_certificates(presented)
        except ValueError:
            raise MtlsFailure("MTLS_CERT_UNPARSEABLE", "the client certificate is not PEM") from None
        verifier = PolicyBuilder().store(Store(anchors)).time(call.now()).build_client_verifier()
        try:
            verifier.verify(chain[0], chain[1:])
        except VerificationError as exc:
            raise MtlsFailure("MTLS_CERT_UNTRUSTED", f"the chain does not verify: {exc}") from None
        return chain[0]

    @staticmethod
    def _filters(task: dict[str, Any], settings: dict[str, Any], leaf: Certificate) -> None:
        subjects = task.get("allowSubjects", settings.get("allowSubjects"))
        sans = task.get("allowSans", settings.get("allowSans"))
        serials = task.get("allowSerials", settings.get("allowSerials"))
        if subjects is not None and leaf.subject.rfc4514_string() not in subjects:
            raise MtlsFailure("MTLS_SUBJECT_DENIED", "the subject is not allowed")
        if sans is not None and not set(_sans(leaf)) & {(k, str(v)) for e in sans for k, v in e.items()}:
            raise MtlsFailure("MTLS_SAN_DENIED", "no subject alternative name is allowed")
        if serials is not None and format(leaf.serial_number, "X") not in {str(s).upper().lstrip("0") for s in serials}:
            raise MtlsFailure("MTLS_SERIAL_DENIED", "the serial number is not allowed")
        allow_any = task.get("allowAnyFromTrusted", settings.get("allowAnyFromTrusted", True))
        if subjects is None and sans is None and serials is None and not allow_any:
            raise MtlsFailure("MTLS_SUBJECT_DENIED", "no filter allows this certificate (allowAnyFromTrusted: false)")

    @staticmethod
    def _done(call: TaskCall, view: dict[str, Any], outcome: str) -> TaskOutcome:
        return TaskOutcome(write_view(call.context, call.task, "mtls", view),
                           record={"auth": {"mechanism": "mtls", "outcome": outcome}})


def _sans(leaf: Certificate) -> list[tuple[str, str]]:
    from cryptography import x509

    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    found = [("dns", n) for n in names.get_values_for_type(x509.DNSName)]
    found += [("uri", n) for n in names.get_values_for_type(x509.UniformResourceIdentifier)]
    found += [("ip", str(n)) for n in names.get_values_for_type(x509.IPAddress)]
    return found


PLUGIN = MtlsValidate()
