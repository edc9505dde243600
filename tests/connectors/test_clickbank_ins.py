"""ClickBank INS: the published vector, our own 6.0/7.0/8.0 carts, and every way a body fails."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ghlbridge.connectors import ConnectorError
from ghlbridge.connectors.clickbank.ins import (
    BadBase64,
    BadEnvelope,
    BadIV,
    BadSecretKey,
    InsError,
    MissingFields,
    NotJSON,
    WrongKeyOrCorrupt,
    decrypt_notification,
    dedupe_key,
    encrypt_notification,
    parse_notification,
)
from tests.connectors.ins_vectors import (
    VECTOR_IV,
    VECTOR_NOTIFICATION,
    VECTOR_PLAINTEXT,
    VECTOR_SECRET,
    cart,
    encrypt,
    raw_decrypt,
    vector_body,
)

SECRET = "SECRET42KEY7"
IV = b"0123456789ABCDEF"


def test_published_vector_decrypts_to_the_documented_test_notification() -> None:
    data = decrypt_notification(vector_body(), VECTOR_SECRET)
    assert data == json.loads(VECTOR_PLAINTEXT)
    n = parse_notification(data)
    assert n.transaction_time == datetime(
        2022, 8, 10, 16, 20, 15, tzinfo=timezone(-timedelta(hours=7))
    )
    assert (n.receipt, n.transaction_type, n.vendor, n.role) == (
        "********",
        "TEST",
        "ketoboost1",
        "VENDOR",
    )
    assert n.total_account_amount == Decimal("1.00") and str(n.total_order_amount) == "1.00"
    assert n.total_tax_amount == Decimal("0.00") and n.currency == "USD"
    assert n.payment_method == "VISA" and n.version == "7.0" and n.attempt_count == 1
    assert n.line_items[0].product_title == "A passed in title"
    assert n.customer.shipping is not None and n.customer.shipping.first_name == "Test"
    assert n.customer.billing is not None and n.customer.billing.first_name == "Test"
    assert n.is_test and n.version_supported and n.email == "testuser@somesite.com"


def test_published_vector_ends_in_pkcs7_padding_of_seven_bytes() -> None:
    assert raw_decrypt(vector_body(), VECTOR_SECRET).endswith(b"\x07" * 7)


def test_library_encrypter_reproduces_the_published_ciphertext_byte_for_byte() -> None:
    body = encrypt_notification(
        VECTOR_PLAINTEXT.encode(), VECTOR_SECRET, iv=base64.b64decode(VECTOR_IV)
    )
    assert json.loads(body) == {"notification": VECTOR_NOTIFICATION, "iv": VECTOR_IV}


@pytest.mark.parametrize("version", [6.0, 7.0, 8.0])
def test_multi_item_cart_decrypts_and_parses_for_each_version(version: float) -> None:
    extra = {}
    if version == 8.0:
        extra["commonTrackingParameters"] = {"clickId": "c-1", "deviceType": "mobile"}
    payload = cart(version, **extra)
    body = encrypt(json.dumps(payload).encode(), SECRET, IV)
    data = decrypt_notification(body, SECRET)
    assert data == json.loads(json.dumps(payload))
    n = parse_notification(data)
    assert n.version == f"{version:.1f}" and n.version_supported
    assert [i.item_no for i in n.line_items] == ["book1", "bump2", "club3"]
    assert [i.line_item_type for i in n.line_items] == ["ORIGINAL", "BUMP", "UPSELL"]
    assert n.line_items[0].account_amount == Decimal("25.10")
    assert n.line_items[2].recurring and n.line_items[2].payments_remaining == 11
    assert n.total_order_amount == Decimal("121.94") and n.total_shipping_amount == Decimal("0.00")
    assert sum(i.account_amount or 0 for i in n.line_items) == n.total_account_amount
    assert n.transaction_time == datetime(2024, 6, 5, 17, 15, 30, tzinfo=UTC)
    assert n.email == "ana@example.com"  # billing before shipping
    assert n.customer.shipping is not None and n.customer.shipping.address.city == "Boise"
    assert n.upsell is not None and n.upsell.original_receipt == "CWOGBZLN"
    assert n.upsell.flow_id == "1234"
    assert n.tracking_codes == ("fb_ad1", "summer") and n.vendor_variables["v1"] == "spring"
    assert n.payment_method == "MSTR_APPLE"  # kept as text: ClickBank adds new methods
    if version == 8.0:
        assert n.tracking_parameters == {"clickId": "c-1", "deviceType": "mobile"}
    assert dedupe_key(n) == [
        "clickbank:CWOGBZLN:SALE:book1",
        "clickbank:CWOGBZLN:SALE:bump2",
        "clickbank:CWOGBZLN:SALE:club3",
    ]


@pytest.mark.parametrize("pad", ["spaces", "nul"])
def test_old_senders_padding_without_pkcs7_is_tolerated(pad: str) -> None:
    plain = json.dumps(cart(6.0)).encode()
    plain += b" " * (-len(plain) % 16 or 3)  # make sure some padding is really needed
    data = decrypt_notification(encrypt(plain, SECRET, IV, pad=pad), SECRET)
    assert data["receipt"] == "CWOGBZLN"


def test_unknown_version_is_logged_not_rejected(caplog: pytest.LogCaptureFixture) -> None:
    body = encrypt(json.dumps(cart(9.0)).encode(), SECRET, IV)
    with caplog.at_level(logging.WARNING):
        n = parse_notification(decrypt_notification(body, SECRET))
    assert n.version == "9.0" and not n.version_supported
    assert "version 9.0" in caplog.text


def test_unknown_transaction_type_is_kept_and_flagged() -> None:
    n = parse_notification(cart(8.0, transactionType="NEW_THING"))
    assert n.transaction_type == "NEW_THING" and not n.is_known_type


def test_wrongly_typed_optional_field_is_ignored_by_name_not_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    payload = cart(7.0, totalOrderAmount={"oops": 1}, transactionTime="yesterday")
    payload["lineItems"][1]["quantity"] = "many"
    with caplog.at_level(logging.WARNING):
        n = parse_notification(payload)
    assert n.total_order_amount is None and n.transaction_time is None
    assert n.line_items[1].quantity is None
    assert "totalOrderAmount" in caplog.text and "lineItems[1].quantity" in caplog.text
    assert "oops" not in caplog.text and "many" not in caplog.text


def test_dedupe_keys_ignore_attempt_count_and_split_repeated_skus() -> None:
    first = cart(7.0)
    retry = cart(7.0, attemptCount=3)
    assert dedupe_key(first) == dedupe_key(retry)
    refund = cart(7.0, transactionType="RFND")
    assert set(dedupe_key(first)).isdisjoint(dedupe_key(refund))
    twice = cart(7.0)
    twice["lineItems"][1]["itemNo"] = "book1"
    assert dedupe_key(twice)[:2] == [
        "clickbank:CWOGBZLN:SALE:book1",
        "clickbank:CWOGBZLN:SALE:book1~2",
    ]
    no_items = cart(7.0, lineItems=[], receipt="AB:C%D")
    assert dedupe_key(no_items) == ["clickbank:AB%3AC%25D:SALE"]


def test_test_notifications_with_masked_receipts_get_distinct_keys_per_press() -> None:
    one = json.loads(VECTOR_PLAINTEXT)
    two = {**one, "transactionTime": "20220810T170000-0700"}
    assert dedupe_key(one) != dedupe_key(two)


# --- negative cases: each rejected with its own error, never echoing the secret -------------


def _rejects(body: bytes, secret: str, error: type[InsError], words: str) -> InsError:
    with pytest.raises(error) as info:
        decrypt_notification(body, secret)
    message = str(info.value)
    assert words in message, message
    assert "\n" not in message
    if secret:
        assert secret not in message
    assert isinstance(info.value, ConnectorError)
    return info.value


@pytest.mark.parametrize(
    "secret",
    ["01GA50", "01GA5001GA5001GA50", "01GA50AY4BYGZKG0", "01ga50ay4bygzkg6", " 01GA50AY4BYGZKG6"],
    ids=["too-short", "too-long", "wrong", "lower-case", "leading-space"],
)
def test_bad_secret_key_is_wrong_key_or_corrupt(secret: str) -> None:
    _rejects(vector_body(), secret, WrongKeyOrCorrupt, "wrong secret key or corrupted")


def test_empty_secret_key_is_refused_before_decrypting() -> None:
    _rejects(vector_body(), "", BadSecretKey, "secret key is empty")


def test_wrong_key_that_passes_the_padding_check_is_still_rejected() -> None:
    # About 1 key in 256 turns the vector into bytes ending in valid PKCS#7 padding.
    body = vector_body()
    for n in range(5000):
        secret = f"WRONG{n:05d}"
        plain = raw_decrypt(body, secret)
        if plain[-1] == 1 or (plain.endswith(bytes([plain[-1]]) * plain[-1]) and plain[-1] <= 16):
            break
    else:
        pytest.fail("no padding-valid wrong key found")
    _rejects(body, secret, WrongKeyOrCorrupt, "wrong secret key")


def test_wrong_iv_of_the_right_length_garbles_the_start_and_is_rejected() -> None:
    body = json.dumps(
        {"notification": VECTOR_NOTIFICATION, "iv": base64.b64encode(b"B" * 16).decode()}
    )
    _rejects(body.encode(), VECTOR_SECRET, WrongKeyOrCorrupt, "wrong secret key")


@pytest.mark.parametrize(
    ("iv", "size"), [("QTYyMzA3QjczMTEyRkI3Qgo=", 17), (base64.b64encode(b"x" * 15).decode(), 15)]
)
def test_iv_that_is_not_16_bytes_is_bad_iv(iv: str, size: int) -> None:
    body = json.dumps({"notification": VECTOR_NOTIFICATION, "iv": iv}).encode()
    _rejects(body, VECTOR_SECRET, BadIV, f"iv decodes to {size} bytes, expected 16")


@pytest.mark.parametrize(
    ("field", "value"),
    [("iv", "QTYyMzA3QjczMTEyRkI3QQ="), ("notification", "not*base64!"), ("iv", "QTYy\u00e9")],
)
def test_invalid_base64_is_bad_base64_naming_the_field(field: str, value: str) -> None:
    envelope = {"notification": VECTOR_NOTIFICATION, "iv": VECTOR_IV, field: value}
    _rejects(
        json.dumps(envelope).encode(), VECTOR_SECRET, BadBase64, f"{field} is not valid base64"
    )


def test_non_json_plaintext_is_not_json_without_quoting_it() -> None:
    body = encrypt(b"customer=ana@example.com&receipt=X", SECRET, IV)
    err = _rejects(body, SECRET, NotJSON, "decrypted notification is not JSON")
    assert "ana@example.com" not in str(err)


def test_json_that_is_not_an_object_is_not_json() -> None:
    _rejects(encrypt(b"[1, 2]", SECRET, IV), SECRET, NotJSON, "JSON list, not an object")


@pytest.mark.parametrize(
    ("drop", "named"),
    [
        (("receipt",), "receipt"),
        (("transactionType",), "transactionType"),
        (("receipt", "transactionType"), "receipt, transactionType"),
    ],
)
def test_missing_receipt_or_transaction_type_is_missing_fields(
    drop: tuple[str, ...], named: str
) -> None:
    payload = {k: v for k, v in cart(7.0).items() if k not in drop}
    err = _rejects(encrypt(json.dumps(payload).encode(), SECRET, IV), SECRET, MissingFields, named)
    assert isinstance(err, MissingFields) and err.fields == drop


def test_empty_receipt_is_missing_fields_in_parse_too() -> None:
    with pytest.raises(MissingFields, match="receipt"):
        parse_notification(cart(7.0, receipt=""))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"notification=abc&iv=def", "body is not JSON"),
        (b'["a"]', "not a JSON object"),
        (b'{"notification": "' + VECTOR_NOTIFICATION.encode() + b'"}', "no 'iv' string"),
        (b'{"notification": 5, "iv": "QTYyMzA3QjczMTEyRkI3QQ=="}', "no 'notification' string"),
        (b'{"notification": "QUJD", "iv": "QTYyMzA3QjczMTEyRkI3QQ=="}', "3 bytes, not a positive"),
        (b"\xff\xfe", "body is not JSON"),
    ],
)
def test_malformed_envelope_is_bad_envelope(body: bytes, words: str) -> None:
    _rejects(body, VECTOR_SECRET, BadEnvelope, words)


def test_envelope_with_a_utf8_bom_and_wrapped_base64_still_decrypts() -> None:
    wrapped = "\n".join(
        VECTOR_NOTIFICATION[i : i + 76] for i in range(0, len(VECTOR_NOTIFICATION), 76)
    )
    body = b"\xef\xbb\xbf" + json.dumps({"notification": wrapped, "iv": VECTOR_IV}).encode()
    assert decrypt_notification(body, VECTOR_SECRET)["vendor"] == "ketoboost1"
