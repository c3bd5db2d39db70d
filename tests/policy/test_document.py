"""Trust policy documents: structure, notation-go validation messages, selection, output."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from notation_py.errors import TrustPolicyError, TrustStoreError
from notation_py.policy import (
    Action,
    BlobTrustPolicy,
    Check,
    IdentityMismatchError,
    LevelName,
    OCITrustPolicy,
    StoreType,
    TrustPolicyStatement,
    TrustStoreRef,
    VerificationLevel,
    VerifyTimestamp,
    X509TrustStore,
    artifact_path,
    scope_match_rank,
    validate_registry_scope,
)
from notation_py.policy.document import TRUST_POLICY_LINK
from tests.conformance import all_cases, cases_of_kind, vector

NAME = "test-statement-name"
SCOPE = "registry.acme-rockets.io/software/net-monitor"


def oci_doc(**statement: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": NAME,
        "registryScopes": [SCOPE],
        "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:valid-trust-store", "signingAuthority:valid-trust-store"],
        "trustedIdentities": ["x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"],
    }
    base.update(statement)
    return {"version": "1.0", "trustPolicies": [base]}


def blob_doc(**statement: Any) -> dict[str, Any]:
    doc = oci_doc(**statement)
    del doc["trustPolicies"][0]["registryScopes"]
    return doc


def _oci_error(doc: Any) -> str:
    with pytest.raises(TrustPolicyError) as info:
        OCITrustPolicy.from_bytes(json.dumps(doc).encode())
    return info.value.message


def _blob_error(doc: Any) -> str:
    with pytest.raises(TrustPolicyError) as info:
        BlobTrustPolicy.from_bytes(json.dumps(doc).encode())
    return info.value.message


def _two(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    return {"version": "1.0", "trustPolicies": [first["trustPolicies"][0], second["trustPolicies"][0]]}


def _with(doc: dict[str, Any], mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    mutate(out)
    return out


SCOPE_HINT = (
    "make sure it is a fully qualified repository without the scheme, protocol or tag. For example "
    "domain.com/my/repository or a local scope like local/myOCILayout"
)

# (id, document, exact message) -- texts from notation-go's oci_test.go / trustpolicy_test.go
OCI_INVALID: list[tuple[str, Any, str]] = [
    (
        "version-invalid",
        {**oci_doc(), "version": "invalid"},
        'oci trust policy document uses unsupported version "invalid"',
    ),
    ("version-2", {**oci_doc(), "version": "2.0"}, 'oci trust policy document uses unsupported version "2.0"'),
    (
        "version-missing",
        {"trustPolicies": oci_doc()["trustPolicies"]},
        "oci trust policy document has empty version, version must be specified",
    ),
    (
        "no-statements",
        {"version": "1.0", "trustPolicies": []},
        "oci trust policy document can not have zero trust policy statements",
    ),
    ("statements-missing", {"version": "1.0"}, "oci trust policy document can not have zero trust policy statements"),
    (
        "no-name",
        oci_doc(name=""),
        "oci trust policy: a trust policy statement is missing a name, every statement requires a name",
    ),
    (
        "null-name",
        oci_doc(name=None),
        "oci trust policy: a trust policy statement is missing a name, every statement requires a name",
    ),
    (
        "zero-scopes",
        oci_doc(registryScopes=[]),
        f'oci trust policy statement "{NAME}" has zero registry scopes, it must specify registry scopes with at least one value',
    ),
    (
        "scopes-missing",
        _with(oci_doc(), lambda d: d["trustPolicies"][0].pop("registryScopes")),
        f'oci trust policy statement "{NAME}" has zero registry scopes, it must specify registry scopes with at least one value',
    ),
    (
        "same-scope-twice",
        _two(oci_doc(), oci_doc(name="test-statement-name-2")),
        f'registry scope "{SCOPE}" is present in multiple oci trust policy statements, one registry scope value can only '
        "be associated with one statement",
    ),
    (
        "two-globals",
        _two(oci_doc(registryScopes=["*"]), oci_doc(name="other", registryScopes=["*"])),
        'registry scope "*" is present in multiple oci trust policy statements, one registry scope value can only be '
        "associated with one statement",
    ),
    (
        "wildcard-plus-scope",
        oci_doc(registryScopes=["*", SCOPE]),
        f"oci trust policy statement \"{NAME}\" uses wildcard registry scope '*', a wildcard scope cannot be used in "
        "conjunction with other scope values",
    ),
    (
        "invalid-level",
        oci_doc(signatureVerification={"level": "invalid"}),
        f'oci trust policy: trust policy statement "{NAME}" has invalid signatureVerification: invalid signature '
        'verification level "invalid"',
    ),
    (
        "missing-level",
        oci_doc(signatureVerification={}),
        f'oci trust policy: trust policy statement "{NAME}" has invalid signatureVerification: signature verification '
        "level is empty or missing in the trust policy statement",
    ),
    (
        "missing-signature-verification",
        _with(oci_doc(), lambda d: d["trustPolicies"][0].pop("signatureVerification")),
        f'oci trust policy: trust policy statement "{NAME}" has invalid signatureVerification: signature verification '
        "level is empty or missing in the trust policy statement",
    ),
    (
        "invalid-verify-timestamp",
        oci_doc(signatureVerification={"level": "strict", "verifyTimestamp": "invalid"}),
        f'oci trust policy: trust policy statement "{NAME}" has invalid signatureVerification: verifyTimestamp must be '
        '"always" or "afterCertExpiry", but got "invalid"',
    ),
    (
        "no-trust-stores",
        oci_doc(trustStores=[]),
        f'oci trust policy: trust policy statement "{NAME}" is either missing trust stores or trusted identities, both '
        "must be specified",
    ),
    (
        "no-identities",
        oci_doc(trustedIdentities=[]),
        f'oci trust policy: trust policy statement "{NAME}" is either missing trust stores or trusted identities, both '
        "must be specified",
    ),
    (
        "skip-with-stores",
        oci_doc(signatureVerification={"level": "skip"}),
        f'oci trust policy: trust policy statement "{NAME}" is set to skip signature verification but configured with '
        "trust stores and/or trusted identities, remove them if signature verification needs to be skipped",
    ),
    (
        "skip-with-identities-only",
        oci_doc(signatureVerification={"level": "skip"}, trustStores=[]),
        f'oci trust policy: trust policy statement "{NAME}" is set to skip signature verification but configured with '
        "trust stores and/or trusted identities, remove them if signature verification needs to be skipped",
    ),
    (
        "empty-identity",
        oci_doc(trustedIdentities=[""]),
        f'oci trust policy: trust policy statement "{NAME}" has an empty trusted identity',
    ),
    (
        "identity-missing-separator",
        oci_doc(trustedIdentities=["x509.subject"]),
        f'oci trust policy: trust policy statement "{NAME}" has trusted identity "x509.subject" missing separator',
    ),
    (
        "identity-empty-value",
        oci_doc(trustedIdentities=["x509.subject:"]),
        f'oci trust policy: trust policy statement "{NAME}" has trusted identity "x509.subject:" without an identity value',
    ),
    (
        "identity-wildcard-plus",
        oci_doc(trustedIdentities=["*", "test-identity"]),
        f"oci trust policy: trust policy statement \"{NAME}\" uses a wildcard trusted identity '*', a wildcard identity "
        "cannot be used in conjunction with other values",
    ),
    (
        "identity-hex-value",
        oci_doc(trustedIdentities=["x509.subject:C=US,ST=WA,O=#0403"]),
        f'oci trust policy: trust policy statement "{NAME}" has trusted identity "x509.subject:C=US,ST=WA,O=#0403" with '
        'invalid identity value: unsupported distinguished name (DN) "C=US,ST=WA,O=#0403": notation does not support '
        'x509.subject identities containing "=#"',
    ),
    (
        "identity-duplicates",
        oci_doc(trustedIdentities=["x509.subject:C=US,ST=WA,O=x", "x509.subject:C=US,ST=WA,O=x"]),
        f'oci trust policy: trust policy statement "{NAME}" has overlapping x509 trustedIdentities, '
        '"x509.subject:C=US,ST=WA,O=x" overlaps with "x509.subject:C=US,ST=WA,O=x"',
    ),
    (
        "store-missing-separator",
        oci_doc(trustStores=["ca"]),
        f'oci trust policy: trust policy statement "{NAME}" has malformed trust store value "ca". The required format is '
        "<TrustStoreType>:<TrustStoreName>",
    ),
    (
        "store-wildcard",
        oci_doc(trustStores=["*"]),
        f'oci trust policy: trust policy statement "{NAME}" has malformed trust store value "*". The required format is '
        "<TrustStoreType>:<TrustStoreName>",
    ),
    (
        "store-invalid-type",
        oci_doc(trustStores=["invalid:test-trust-store"]),
        f'oci trust policy: trust policy statement "{NAME}" uses an unsupported trust store type "invalid" in trust store '
        'value "invalid:test-trust-store"',
    ),
    (
        "store-empty-name",
        oci_doc(trustStores=["ca:"]),
        f'oci trust policy: trust policy statement "{NAME}" uses an unsupported trust store name "" in trust store value '
        '"ca:". Named store name needs to follow [a-zA-Z0-9_.-]+ format',
    ),
    (
        "store-bad-name",
        oci_doc(trustStores=["ca:#@$@$"]),
        f'oci trust policy: trust policy statement "{NAME}" uses an unsupported trust store name "#@$@$" in trust store '
        'value "ca:#@$@$". Named store name needs to follow [a-zA-Z0-9_.-]+ format',
    ),
    (
        "store-dotdot",
        oci_doc(trustStores=["ca:.."]),
        f'oci trust policy: trust policy statement "{NAME}" uses an unsupported trust store name ".." in trust store '
        'value "ca:..". Named store name needs to follow [a-zA-Z0-9_.-]+ format',
    ),
    (
        "duplicate-names",
        _two(oci_doc(), oci_doc(registryScopes=["registry.acme-rockets.io/software/legacy/metrics"])),
        f'multiple oci trust policy statements use the same name "{NAME}", statement names must be unique',
    ),
    (
        "override-integrity",
        oci_doc(signatureVerification={"level": "strict", "override": {"integrity": "log"}}),
        f'oci trust policy: trust policy statement "{NAME}" has invalid signatureVerification: "integrity" verification '
        "can not be overridden in custom signature verification",
    ),
    (
        "override-on-skip",
        oci_doc(
            signatureVerification={"level": "skip", "override": {"revocation": "log"}},
            trustStores=[],
            trustedIdentities=[],
        ),
        f'oci trust policy: trust policy statement "{NAME}" has invalid signatureVerification: signature verification '
        'level "skip" can\'t be used to customize signature verification',
    ),
    (
        "override-skip-expiry",
        oci_doc(signatureVerification={"level": "strict", "override": {"expiry": "skip"}}),
        f'oci trust policy: trust policy statement "{NAME}" has invalid signatureVerification: "expiry" verification '
        "can not be skipped in custom signature verification",
    ),
    (
        "override-unknown-type",
        oci_doc(signatureVerification={"level": "strict", "override": {"invalid": "log"}}),
        f'oci trust policy: trust policy statement "{NAME}" has invalid signatureVerification: verification type '
        '"invalid" in custom signature verification is not supported, supported values are ["integrity" '
        '"authenticity" "authenticTimestamp" "expiry" "revocation" "transparency"]',  # notation-py adds the last
    ),
    (
        "override-unknown-action",
        oci_doc(signatureVerification={"level": "strict", "override": {"authenticity": "invalid"}}),
        f'oci trust policy: trust policy statement "{NAME}" has invalid signatureVerification: verification action '
        '"invalid" in custom signature verification is not supported, supported values are ["enforce" "log" "skip"]',
    ),
    # structure
    ("not-json", "not json", "malformed trust policy: invalid JSON: Expecting value at line 1 column 1"),
    ("not-object", ["a"], "malformed trust policy: the trust policy document must be a JSON object"),
    (
        "statements-not-array",
        {"version": "1.0", "trustPolicies": {}},
        "malformed trust policy: trustPolicies must be an array",
    ),
    (
        "statement-not-object",
        {"version": "1.0", "trustPolicies": ["x"]},
        "malformed trust policy: trustPolicies[0] must be a JSON object",
    ),
    ("version-number", {**oci_doc(), "version": 1.0}, "malformed trust policy: version must be a string"),
    ("name-number", oci_doc(name=5), "malformed trust policy: trustPolicies[0].name must be a string"),
    (
        "scopes-string",
        oci_doc(registryScopes=SCOPE),
        "malformed trust policy: trustPolicies[0].registryScopes must be an array of strings",
    ),
    (
        "stores-with-null",
        oci_doc(trustStores=[None]),
        "malformed trust policy: trustPolicies[0].trustStores must be an array of strings",
    ),
    (
        "sv-not-object",
        oci_doc(signatureVerification="strict"),
        "malformed trust policy: trustPolicies[0].signatureVerification must be a JSON object",
    ),
    (
        "override-not-strings",
        oci_doc(signatureVerification={"level": "strict", "override": {"expiry": 1}}),
        "malformed trust policy: trustPolicies[0].signatureVerification.override values must be strings",
    ),
]


@pytest.mark.parametrize(("document", "message"), [pytest.param(d, m, id=i) for i, d, m in OCI_INVALID])
def test_oci_invalid_documents(document: Any, message: str) -> None:
    if isinstance(document, str):
        with pytest.raises(TrustPolicyError) as info:
            OCITrustPolicy.from_bytes(document.encode())
        assert info.value.message == message
    else:
        assert _oci_error(document) == message


@pytest.mark.parametrize(
    "scope",
    ["", "1:1", "a,b", "abcd", "1111", "1,2", "example.com/rep:tag", "example.com/rep/subrep/sub:latest", "example.com",
     "rep/rep2:latest", "repository", "10.10.10.10", "10.10.10.10:8080/rep/rep2:latest", "localhost:5001\\test-repo",
     "Example.com/Upper", "example.com/rep/", "-bad.com/rep", "example.com/a--"],
)  # fmt: skip
def test_invalid_registry_scopes(scope: str) -> None:
    message = f'registry scope "{scope.replace(chr(92), chr(92) * 2)}" is not valid, {SCOPE_HINT}'
    assert _oci_error(oci_doc(registryScopes=[scope])) == message


@pytest.mark.parametrize("scope", ["example.com/*", "*/", "example*/", "ex*test"])
def test_wildcard_inside_scope(scope: str) -> None:
    assert (
        _oci_error(oci_doc(registryScopes=[scope]))
        == f'registry scope "{scope}" with wild card(s) is not valid, {SCOPE_HINT}'
    )


@pytest.mark.parametrize(
    "scope",
    ["*", "example.com/rep", "example.com:8080/rep/rep2", "example.com/rep/subrep/subsub", "10.10.10.10:8080/rep/rep2",
     "domain/rep", "domain:1234/rep", "local/myOCILayout".lower(), "a.b-c.d/x__y/z---w.v_u", "localhost:5000/net-monitor"],
)  # fmt: skip
def test_valid_registry_scopes(scope: str) -> None:
    OCITrustPolicy.from_bytes(json.dumps(oci_doc(registryScopes=[scope])).encode())


def test_registry_scope_regex_is_linear() -> None:
    # A pathological input for the original (nested-quantifier) repository regex.
    with pytest.raises(TrustPolicyError):
        validate_registry_scope("example.com/" + "a" * 5000 + "!")
    with pytest.raises(TrustPolicyError):
        validate_registry_scope("a-" * 3000 + "!/repo")


def test_valid_oci_document_like_go() -> None:
    statements = [
        oci_doc()["trustPolicies"][0],
        {**oci_doc()["trustPolicies"][0], "name": "s2", "registryScopes": ["registry.wabbit-networks.io/software/unsigned/net-utils"], "signatureVerification": {"level": "permissive"}},
        {"name": "s3", "registryScopes": ["registry.acme-rockets.io/software/legacy/metrics"], "signatureVerification": {"level": "skip"}, "trustStores": [], "trustedIdentities": []},
        {**oci_doc()["trustPolicies"][0], "name": "s4", "registryScopes": ["*"], "signatureVerification": {"level": "audit"}},
        {**oci_doc()["trustPolicies"][0], "name": "s5", "registryScopes": ["registry.acme-rockets2.io/software"], "trustedIdentities": ["*"]},
        {**oci_doc()["trustPolicies"][0], "name": "s6", "registryScopes": ["r.io/six"], "signatureVerification": {"level": "strict", "verifyTimestamp": ""}},
        {**oci_doc()["trustPolicies"][0], "name": "s7", "registryScopes": ["r.io/seven"], "signatureVerification": {"level": "strict", "verifyTimestamp": "always"}},
        {**oci_doc()["trustPolicies"][0], "name": "s8", "registryScopes": ["r.io/eight"], "signatureVerification": {"level": "strict", "verifyTimestamp": "afterCertExpiry"}},
        {"name": "s9", "registryScopes": ["r.io/nine"], "signatureVerification": {"level": "skip"}, "trustStores": None},
    ]  # fmt: skip
    policy = OCITrustPolicy.from_dict({"version": "1.0", "trustPolicies": statements})
    assert [s.name for s in policy] == [NAME, "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"]
    first = policy.statements[0]
    assert first.level.name is LevelName.STRICT
    assert first.trust_stores == (
        TrustStoreRef(StoreType.CA, "valid-trust-store"),
        TrustStoreRef(StoreType.SIGNING_AUTHORITY, "valid-trust-store"),
    )
    assert first.registry_scopes == (SCOPE,)
    assert policy.statements[2].is_skip
    assert policy.statements[5].verify_timestamp is VerifyTimestamp.ALWAYS
    assert policy.statements[7].verify_timestamp is VerifyTimestamp.AFTER_CERT_EXPIRY


def test_every_conformance_policy_parses_strictly_or_fails_like_go() -> None:
    """Policies of cases.json: valid ones validate; the malformed ones fail with the document message."""
    seen = 0
    for case in all_cases():
        for key, cls in (("trustPolicyOCI", OCITrustPolicy), ("trustPolicyBlob", BlobTrustPolicy)):
            if key not in case:
                continue
            seen += 1
            doc = case[key]
            stores = doc["trustPolicies"][0].get("trustStores", [])
            identities = doc["trustPolicies"][0].get("trustedIdentities", [])
            malformed = any(":" not in s for s in stores) or any(
                (i.startswith("x509.subject") and ":" not in i) or i == "x509.subject:" for i in identities
            )
            lenient = cls.from_dict(doc, validate=False)
            assert lenient.to_dict() == cls.from_dict(lenient.to_dict(), validate=False).to_dict()
            if malformed:
                with pytest.raises(TrustPolicyError, match=f"^{cls._KIND} trust policy: trust policy statement"):
                    cls.from_dict(doc)
            else:
                cls.from_dict(doc)
    assert seen >= 40


# --- verification-time messages of unvalidated documents (the oci-envelope cases) ---------------------


def _oci_envelope_cases(suffix: str) -> list[dict[str, Any]]:
    return [c for c in cases_of_kind("oci-envelope") if c["id"].endswith(suffix)]


def test_lenient_trust_store_separator_message_matches_cases() -> None:
    store = X509TrustStore.from_config_dir(vector("notation-go"))
    cases = _oci_envelope_cases("truststore-missing-separator")
    assert len(cases) == 2
    for case in cases:
        statement = OCITrustPolicy.from_dict(case["trustPolicyOCI"], validate=False).statement_for(
            case["artifactReference"]
        )
        store_type = StoreType.CA if case["signingScheme"] == "notary.x509" else StoreType.SIGNING_AUTHORITY
        with pytest.raises(TrustStoreError) as info:
            statement.certificates(store, store_type)
        assert info.value.message == case["levels"]["strict"]["error"]
        assert statement.trust_stores == (TrustStoreRef(StoreType.CA, "valid-trust-store-2"),)
        assert statement.raw_trust_stores == ("ca:valid-trust-store-2", "signingAuthority")


@pytest.mark.parametrize("suffix", ["trusted-identity-missing-separator", "trusted-identity-empty-value"])
def test_lenient_identity_messages_match_cases(suffix: str) -> None:
    cases = _oci_envelope_cases(suffix)
    assert len(cases) == 2
    for case in cases:
        statement = OCITrustPolicy.from_dict(case["trustPolicyOCI"], validate=False).statements[0]
        with pytest.raises(TrustPolicyError) as info:
            _ = statement.identities
        assert info.value.message == case["levels"]["strict"]["error"]


def test_lenient_valid_statement_loads_and_matches() -> None:
    import base64

    from cryptography import x509

    case = _oci_envelope_cases("ca-valid")[0]
    statement = OCITrustPolicy.from_dict(case["trustPolicyOCI"]).statement_for(case["artifactReference"])
    store = X509TrustStore.from_config_dir(vector(case["configDir"]))
    assert len(statement.certificates(store, StoreType.CA)) == 6
    assert len(statement.certificates(store, StoreType.SIGNING_AUTHORITY)) == 3
    assert not statement.uses_tsa()
    envelope = json.loads(vector(case["envelope"]).read_text())
    leaf = x509.load_der_x509_certificate(base64.b64decode(envelope["header"]["x5c"][0]))
    statement.verify_identity(leaf)
    other = OCITrustPolicy.from_dict(oci_doc(trustedIdentities=["x509.subject:C=US,ST=WA,O=Other"])).statements[0]
    with pytest.raises(IdentityMismatchError):
        other.verify_identity(leaf)


# --- selection ---------------------------------------------------------------------------------------


def _selection_policy() -> OCITrustPolicy:
    exact = oci_doc(name="exact", registryScopes=["registry.wabbit-networks.io/software/unsigned/net-utils", SCOPE])
    wildcard = oci_doc(
        name="global",
        registryScopes=["*"],
        signatureVerification={"level": "skip"},
        trustStores=[],
        trustedIdentities=[],
    )
    return OCITrustPolicy.from_dict(_two(wildcard, exact))


def test_oci_selection() -> None:
    policy = _selection_policy()
    assert policy.statement_for(f"{SCOPE}@sha256:hash").name == "exact"
    assert policy.statement_for(SCOPE).name == "exact"
    assert policy.statement_for("some.registry.that/has.no.policy@sha256:hash").name == "global"
    assert policy.statement_for(f"{SCOPE}/sub@sha256:x").name == "global"  # no prefix matching


def test_oci_no_applicable_statement() -> None:
    policy = OCITrustPolicy.from_dict(
        oci_doc(registryScopes=["registry.wabbit-networks.io/software/unsigned/net-utils"])
    )
    with pytest.raises(TrustPolicyError) as info:
        policy.statement_for("non.existing.scope/repo@sha256:hash")
    assert info.value.message == (
        'artifact "non.existing.scope/repo@sha256:hash" has no applicable oci trust policy statement. Trust policy '
        "applicability for a given artifact is determined by registryScopes. To create a trust policy, see: "
        "https://notaryproject.dev/docs/quickstart/#create-a-trust-policy"
    )


def test_oci_selection_rejects_invalid_paths() -> None:
    with pytest.raises(TrustPolicyError, match='registry scope "repo:tag" is not valid'):
        _selection_policy().statement_for("repo:tag@sha256:abc")
    assert artifact_path("localhost:5000/a/b@sha256:abc") == "localhost:5000/a/b"


def test_scope_rank() -> None:
    assert scope_match_rank("a.io/x", "a.io/x") == 2
    assert scope_match_rank("*", "a.io/x") == 0
    assert scope_match_rank("a.io/y", "a.io/x") is None


def test_unvalidated_duplicates_pick_the_last_like_go() -> None:
    doc = _two(oci_doc(name="first"), oci_doc(name="second"))
    assert OCITrustPolicy.from_dict(doc, validate=False).statement_for(SCOPE).name == "second"


def test_blob_selection_and_rules() -> None:
    doc = {
        "version": "1.0",
        "trustPolicies": [
            blob_doc(name="a")["trustPolicies"][0],
            {**blob_doc(name="b")["trustPolicies"][0], "globalPolicy": True},
        ],
    }
    policy = BlobTrustPolicy.from_dict(doc)
    assert policy.statement_for("a").name == "a"
    assert policy.statement_for().name == "b"
    assert policy.global_statement is policy.statements[1]
    with pytest.raises(TrustPolicyError, match=r"^policy name cannot be empty$"):
        policy.statement_for("  ")
    with pytest.raises(TrustPolicyError) as info:
        policy.statement_for("c")
    assert (
        info.value.message
        == "no applicable blob trust policy. Applicability for a given blob is determined by policy name"
    )
    no_global = BlobTrustPolicy.from_dict(blob_doc())
    with pytest.raises(TrustPolicyError, match=r"^no global blob trust policy$"):
        no_global.statement_for(None)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({**blob_doc(), "version": ""}, "blob trust policy has empty version, version must be specified"),
        ({**blob_doc(), "version": "1.1"}, 'blob trust policy document uses unsupported version "1.1"'),
        ({"version": "1.0", "trustPolicies": []}, "blob trust policy document can not have zero trust policy statements"),
        (_two(blob_doc(), blob_doc()), f'multiple blob trust policy statements use the same name "{NAME}", statement names must be unique'),
        (
            _two(blob_doc(globalPolicy=True), blob_doc(name="x", globalPolicy=True)),
            "multiple blob trust policy statements have globalPolicy set to true. Only one trust policy statement should "
            "be marked as global policy",
        ),
        (blob_doc(trustStores=["ca"]), f'blob trust policy: trust policy statement "{NAME}" has malformed trust store value "ca". The required format is <TrustStoreType>:<TrustStoreName>'),
        (blob_doc(globalPolicy="yes"), "malformed trust policy: trustPolicies[0].globalPolicy must be a boolean"),
    ],
)  # fmt: skip
def test_blob_invalid_documents(document: Any, message: str) -> None:
    assert _blob_error(document) == message


def test_blob_ignores_registry_scopes_and_allows_skip_global() -> None:
    doc = blob_doc(globalPolicy=True, signatureVerification={"level": "skip"}, trustStores=[], trustedIdentities=[])
    doc["trustPolicies"][0]["registryScopes"] = ["whatever"]
    policy = BlobTrustPolicy.from_dict(doc)
    statement = policy.statement_for()
    assert statement.is_skip and statement.registry_scopes == ()
    assert statement.extensions == {"registryScopes": ["whatever"]}


# --- levels ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "override", "expected"),
    [
        ("strict", {}, "EEEEE"),
        ("permissive", {}, "EELLL"),
        ("audit", {}, "ELLLL"),
        ("skip", {}, "SSSSS"),
        ("strict", {"authenticity": "log"}, "ELEEE"),
        ("permissive", {"authenticity": "log"}, "ELLLL"),
        ("audit", {"authenticity": "enforce"}, "EELLL"),
        ("strict", {"expiry": "log"}, "EEELE"),
        ("audit", {"expiry": "enforce"}, "ELLEL"),
        ("strict", {"revocation": "skip"}, "EEEES"),
        ("permissive", {"authenticTimestamp": "enforce", "revocation": "enforce"}, "EEELE"),
    ],
)
def test_levels_and_overrides(level: str, override: dict[str, str], expected: str) -> None:
    sv = {"level": level, "override": override} if override else {"level": level}
    extra: dict[str, Any] = {"trustStores": [], "trustedIdentities": []} if level == "skip" else {}
    statement = OCITrustPolicy.from_dict(oci_doc(signatureVerification=sv, **extra)).statements[0]
    letters = {Action.ENFORCE: "E", Action.LOG: "L", Action.SKIP: "S"}
    order = (Check.INTEGRITY, Check.AUTHENTICITY, Check.AUTHENTIC_TIMESTAMP, Check.EXPIRY, Check.REVOCATION)
    assert "".join(letters[statement.level.action(c)] for c in order) == expected
    assert dict(statement.overrides) == override


@pytest.mark.parametrize(
    ("level", "override"),
    [("strict", {"integrity": "log"}), ("strict", {"authenticity": "skip"}), ("strict", {"authenticTimestamp": "skip"}),
     ("strict", {"expiry": "skip"}), ("skip", {"authenticity": "log"}), ("invalid", {"authenticity": "log"}),
     ("strict", {"invalid": "log"}), ("strict", {"authenticity": "invalid"}), ("", {})],
)  # fmt: skip
def test_invalid_levels_even_without_validation(level: str, override: dict[str, str]) -> None:
    doc = oci_doc(signatureVerification={"level": level, "override": override})
    with pytest.raises(TrustPolicyError, match=f'^trust policy statement "{NAME}" has invalid signatureVerification: '):
        OCITrustPolicy.from_dict(doc, validate=False)
    with pytest.raises(TrustPolicyError):
        VerificationLevel.build(level, override)


# --- extensions and output ------------------------------------------------------------------------------


def test_unknown_members_are_kept_and_written_back() -> None:
    doc = oci_doc(
        futureMember={"url": "https://log.example", "enforce": True},
        signatureVerification={
            "level": "strict",
            "verifyTimestamp": "afterCertExpiry",
            "skipTimestampRevocationCheck": True,
        },
    )
    doc["$comment"] = "kept"
    policy = OCITrustPolicy.from_dict(doc)
    statement = policy.statements[0]
    assert statement.extensions == {"futureMember": {"url": "https://log.example", "enforce": True}}
    assert statement.signature_verification_extensions == {"skipTimestampRevocationCheck": True}
    assert policy.extensions == {"$comment": "kept"}
    again = json.loads(policy.to_json())
    assert again == doc
    assert OCITrustPolicy.from_bytes(policy.to_json()) == policy


def test_to_json_shape() -> None:
    policy = BlobTrustPolicy.from_dict(
        blob_doc(globalPolicy=True, signatureVerification={"level": "strict", "override": {"revocation": "skip"}})
    )
    text = policy.to_json()
    assert text.endswith(b"}\n")
    assert json.loads(text) == {
        "version": "1.0",
        "trustPolicies": [
            {
                "name": NAME,
                "signatureVerification": {"level": "strict", "override": {"revocation": "skip"}},
                "trustStores": ["ca:valid-trust-store", "signingAuthority:valid-trust-store"],
                "trustedIdentities": ["x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"],
                "globalPolicy": True,
            }
        ],
    }


def test_documents_built_in_code_validate() -> None:
    statement = TrustPolicyStatement(
        name="wabbit",
        level=VerificationLevel.build("strict"),
        trust_stores=(TrustStoreRef(StoreType.CA, "wabbit"),),
        trusted_identities=("*",),
        global_policy=True,
    )
    policy = BlobTrustPolicy([statement])
    policy.validate()
    assert BlobTrustPolicy.from_bytes(policy.to_json()).statements[0].raw_trust_stores == ("ca:wabbit",)
    bad = BlobTrustPolicy([TrustPolicyStatement(name="x", level=VerificationLevel.build("strict"))])
    with pytest.raises(TrustPolicyError, match="is either missing trust stores or trusted identities"):
        bad.validate()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"version": "1.0", "version": "1.0"}', 'malformed trust policy: invalid JSON: duplicate key "version"'),
        (b'{"version": NaN}', "malformed trust policy: invalid JSON: NaN is not allowed"),
        (b"\xff\xfe", "malformed trust policy: not UTF-8 text (invalid start byte at byte 0)"),
        (
            b'{"version": "1.0", "trustPolicies": []} x',
            "malformed trust policy: invalid JSON: Extra data at line 1 column 41",
        ),
    ],
)
def test_strict_json(data: bytes, message: str) -> None:
    with pytest.raises(TrustPolicyError) as info:
        OCITrustPolicy.from_bytes(data)
    assert info.value.message == message


# --- files ----------------------------------------------------------------------------------------------


def test_from_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "trustpolicy.oci.json"
    with pytest.raises(TrustPolicyError) as info:
        OCITrustPolicy.from_file(missing)
    assert info.value.message == f"trust policy is not present. To create a trust policy, see: {TRUST_POLICY_LINK}"

    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(TrustPolicyError) as info:
        OCITrustPolicy.from_file(bad)
    assert (
        info.value.message
        == f'malformed trust policy file "{bad}": invalid JSON: Expecting property name enclosed in double quotes at line 1 column 2'
    )

    real = tmp_path / "real.json"
    real.write_text(json.dumps(oci_doc()))
    link = tmp_path / "link.json"
    link.symlink_to(real)
    for not_regular in (link, tmp_path):
        with pytest.raises(TrustPolicyError) as info:
            OCITrustPolicy.from_file(not_regular)
        assert info.value.message == (
            "trust policy is not a regular file (symlinks are not supported). To create a trust policy, see: "
            f"{TRUST_POLICY_LINK}"
        )

    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(oci_doc(registryScopes=[])))
    with pytest.raises(TrustPolicyError, match=r"^oci trust policy statement .* has zero registry scopes"):
        OCITrustPolicy.from_file(invalid)
    assert OCITrustPolicy.from_file(invalid, validate=False).statements[0].registry_scopes == ()


def test_from_file_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked.json"
    locked.write_text("{}")
    # chmod 0 does not stop root (the CI user), so the denial is injected at the read itself.
    real_read_bytes = Path.read_bytes

    def deny(self: Path) -> bytes:
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(TrustPolicyError, match="unable to read trust policy due to file permissions"):
        OCITrustPolicy.from_file(locked)


def test_load_prefers_oci_file_then_legacy(tmp_path: Path) -> None:
    with pytest.raises(TrustPolicyError, match=r"^trust policy is not present"):
        OCITrustPolicy.load(tmp_path)
    (tmp_path / "trustpolicy.json").write_text(json.dumps(oci_doc(name="legacy")))
    assert OCITrustPolicy.load(tmp_path).statements[0].name == "legacy"
    (tmp_path / "trustpolicy.oci.json").write_text(json.dumps(oci_doc(name="oci")))
    assert OCITrustPolicy.load(tmp_path).statements[0].name == "oci"
    (tmp_path / "trustpolicy.blob.json").write_text(json.dumps(blob_doc(name="blob")))
    assert BlobTrustPolicy.load(tmp_path).statements[0].name == "blob"
