"""A small attestation CA, as a device-trust server runs one (issue 14's tests): it challenges an
attestation key (AK) with a credential only the TPM holding the EK can open, and certifies the AK
once its secret came back, following the TCG's AIK certificate profile.

The credential is made by tpm2-tools (`tpm2_makecredential -T none`: no TPM), the certificate by
python3-cryptography: neither is liaison's code.
"""

import base64
import datetime
import os
import subprocess
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ObjectIdentifier

# TCG: the AIK certificate's extended key usage, and the TPM's identity in its subjectAltName.
TCG_KP_AIK_CERTIFICATE = ObjectIdentifier("2.23.133.8.3")
TCG_AT_TPM_MANUFACTURER = ObjectIdentifier("2.23.133.2.1")
TCG_AT_TPM_MODEL = ObjectIdentifier("2.23.133.2.2")
TCG_AT_TPM_VERSION = ObjectIdentifier("2.23.133.2.3")


class AttestationCa:
    def __init__(self, name="liaison test attestation CA"):
        self.directory = tempfile.mkdtemp(prefix="liaison-attestation-ca-")
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256()))
        self.root_pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def challenge(self, enrollment, ek_index="0x01c00002"):
        """A credential for the enrolled AK's name, encrypted to the EK at `ek_index` (given as
        the TPM2B_PUBLIC enroll printed): (the file's bytes, the secret it hides)."""
        ek = next(e for e in enrollment["endorsement_keys"] if e["nv_index"] == ek_index)
        secret = os.urandom(32)
        ek_public = os.path.join(self.directory, "ek.pub")
        with open(ek_public, "wb") as file:
            file.write(base64.b64decode(ek["public_area"]))
        secret_file = os.path.join(self.directory, "secret")
        with open(secret_file, "wb") as file:
            file.write(secret)
        out = os.path.join(self.directory, "credential")
        subprocess.run(["tpm2_makecredential", "-T", "none", "-u", ek_public, "-s", secret_file,
                        "-n", enrollment["attestation_key"]["name"], "-o", out],
                       check=True, capture_output=True, timeout=30)
        with open(out, "rb") as file:
            return file.read(), secret

    def certify(self, enrollment, days=30):
        """The AK's certificate (PEM), TCG AIK profile: empty subject, the TPM's manufacturer,
        model and version in a critical subjectAltName, EKU tcg-kp-AIKCertificate, not a CA."""
        public_pem = enrollment["attestation_key"]["public_key"].encode()
        ak_public = serialization.load_pem_public_key(public_pem)
        tpm = x509.Name([x509.NameAttribute(TCG_AT_TPM_MANUFACTURER, "id:00001014"),
                         x509.NameAttribute(TCG_AT_TPM_MODEL, "swtpm"),
                         x509.NameAttribute(TCG_AT_TPM_VERSION, "id:20191023")])
        now = datetime.datetime.now(datetime.timezone.utc)
        not_after = now + datetime.timedelta(days=days)  # days < 0: expired already
        not_before = min(now, not_after) - datetime.timedelta(days=1)
        certificate = (
            x509.CertificateBuilder().subject_name(x509.Name([]))
            .issuer_name(self.certificate.subject).public_key(ak_public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DirectoryName(tpm)]), critical=True)
            .add_extension(x509.ExtendedKeyUsage([TCG_KP_AIK_CERTIFICATE]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256()))
        return certificate.public_bytes(serialization.Encoding.PEM).decode()
