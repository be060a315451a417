"""Checks the SigV4 Authorization header of captured HTTP requests with botocore's signer
(Debian's python3-botocore), an implementation independent of libcurl's.

    /usr/bin/python3 verify_sigv4.py ACCESS_KEY SECRET REGION [TOKEN|-] REQUEST_FILE...

Each file holds one request as it arrived (head and body). For each, the request is rebuilt with
exactly the headers it says it signed, signed again by botocore at its own X-Amz-Date, and the
two Authorization headers compared. Exit 0 when every one matches, 1 when any does not (with the
reason), 2 on bad usage."""
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def check(path, creds, region, token):
    raw = open(path, "rb").read()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no SigV4 Authorization header"
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    signed = fields["SignedHeaders"].split(";")
    if token is not None:
        if headers.get("x-amz-security-token") != token:
            return "X-Amz-Security-Token is missing or not the session token"
        if "x-amz-security-token" not in signed:
            return "X-Amz-Security-Token is not signed"
    for required in ("host", "x-amz-date", "x-amz-target"):
        if required not in signed:
            return "%s is not signed" % required
    request = AWSRequest(method=method, url="http://%s%s" % (headers["host"], target), data=body,
                         headers={name: headers[name] for name in signed})
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(creds, "dynamodb", region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    scope = "%s/%s/%s/dynamodb/aws4_request" % (creds.access_key, headers["x-amz-date"][:8], region)
    if fields["Credential"] != scope:
        return "credential scope %s, expected %s" % (fields["Credential"], scope)
    if fields["Signature"] != expected:
        return "signature %s, botocore computes %s" % (fields["Signature"], expected)
    return None


def main(argv):
    if len(argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    key, secret, region, token = argv[1:5]
    token = None if token == "-" else token
    creds = Credentials(key, secret, token)
    bad = 0
    for path in argv[5:]:
        why = check(path, creds, region, token)
        if why:
            print("%s: %s" % (path, why))
            bad += 1
    print("verify_sigv4: %d of %d requests verified" % (len(argv) - 5 - bad, len(argv) - 5))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
