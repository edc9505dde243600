"""ClickBank INS test material: the published vector, and an encrypter written from the facts.

`encrypt` is written here independently of `ghlbridge.connectors.clickbank.ins`, straight
from the algorithm in clickbank-facts.md, so a shared mistake cannot make both sides agree.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# Published by OcelliSolutions/OpenClickBank (tests/.../NotificationTests.cs): a TEST
# notification, version 7.0.
VECTOR_SECRET = "01GA50AY4BYGZKG6"
VECTOR_IV = "QTYyMzA3QjczMTEyRkI3QQ=="
VECTOR_NOTIFICATION = (
    "MBEoe/2rchEe6sWyCfHHGkcjdVc1UzdciFfivskjXp67Wg+vVnrSFpVpw+UjrNlCrbZ2ThZZjUyzemuOoPjIUGICdEtN"
    "QtA7h2E2J3jR++p8NyQBYjjXsMaTEe9i2Ka5jehEE5IjTZzJqRE1lt0eSXcZ31ZLyaWuvMeviAGNGJtxodhmovBIByzP"
    "insRdsqCs9Z4Li+0tGQ2pOmZQ0XfM5Yrh3Z7e1X9E8FOeK+36Obmu5ntj3AjvDqdLxATLjQMvf+A29mlOgKOEDm5k5tl"
    "eVRIgm8QXLdv6c+4HdkHOVfEv0UbJimcrhznTpCp3WIGETD8NGWShx/qt4nA6fGNlmbpl8wcDJE69416ZVjGvQLPjYy/"
    "JM+AoNWOFF+R8BY+r9JSAQyFeXGai6nJDCHO0Gk3u7ERyEc5txqMajT9zuqcqWgEF9EOLjVRekZhZkN0VuqviZjXgnkt"
    "Jkjct+obJ+a/RKFI7invriI6O0jzAOdc9hioUcT9YI2U9JRVX7CmddIZqtObkyG3pacOQV4YcdBTd02TZmoNZmqZVkqs"
    "CbRshC18cSSLEL764DORri5DJVvIzmJrUudKDivO4MUHJN/deX4mzlTQ8Rn9iv75IR/g72MehQHb17h2JUPxs//YDMoO"
    "BR+PMz36kt0F8XDCYnWbCZvOQLdf0AZmrQscOEDf/HfL42+Xd3Rzbuv7MLJSjhRIAJy2ct48PIaQix25SwjImvgPmvGe"
    "+jeJS8wn6SoCeZXj5Oz7qbbYEmPOXZDnMf/s4E/nIhGLpK1y6CoQEwoyTFSAB6Jt+dwvThrLKNgQRhZD23js6CrUnAwR"
    "2Tb+SlGZulXcSV23/7AG2xlI18KL9cK5+PXeYnpeTOduqUvzZm4SsAHz3ajYohc4oKF/welOsr8FzwEiJeCkMjEsm7c2"
    "HP+iQcBKBtYgx6KBc5HJ7IGMcjKQMpIO3N5daYZK2P9agaMJA0HHPx12lkF9VI4GgOe0Q2GYtJhXtshL/g0+z5njhILS"
    "1V30Wk4eCqds4oq+r4Y6aC+lomp08iPcwAVs6o4kFY04QmXmFKENfCzCIQvkfCV7CsOQYyhFOrlA"
)
# What the vector decrypts to (checked against the C# test's assertions).
VECTOR_PLAINTEXT = (
    '{"transactionTime":"20220810T162015-0700","receipt":"********","transactionType":"TEST",'
    '"vendor":"ketoboost1","role":"VENDOR","totalAccountAmount":1.00,"paymentMethod":"VISA",'
    '"totalOrderAmount":1.00,"totalTaxAmount":0.00,"totalShippingAmount":0.00,"currency":"USD",'
    '"lineItems":[{"itemNo":"1","productTitle":"A passed in title","shippable":false,'
    '"recurring":false,"accountAmount":1.00,"quantity":1,"lineItemType":"ORIGINAL",'
    '"productPrice":1.00,"productDiscount":0.00,"taxAmount":0.00,"shippingAmount":0.00,'
    '"shippingLiable":false}],"customer":{"shipping":{"firstName":"Test","lastName":"User",'
    '"fullName":"Test User","email":"testuser@somesite.com","address":{}},"billing":'
    '{"firstName":"Test","lastName":"User","fullName":"Test User",'
    '"email":"testuser@somesite.com","address":{}}},"version":7.0,"attemptCount":1}'
)


def vector_body() -> bytes:
    return json.dumps({"notification": VECTOR_NOTIFICATION, "iv": VECTOR_IV}).encode()


def key_for(secret: str) -> bytes:
    return hashlib.sha1(secret.encode()).hexdigest()[:32].encode("ascii")


def encrypt(plain: bytes, secret: str, iv: bytes, *, pad: str = "pkcs7") -> bytes:
    """An INS body; `pad` is "pkcs7" (ClickBank), "spaces" or "nul" (older senders)."""
    fill = 16 - len(plain) % 16
    if pad == "pkcs7":
        plain += bytes([fill]) * fill
    elif fill != 16:
        plain += (b" " if pad == "spaces" else b"\0") * fill
    encryptor = Cipher(algorithms.AES(key_for(secret)), modes.CBC(iv)).encryptor()
    ct = encryptor.update(plain) + encryptor.finalize()
    envelope = {"notification": base64.b64encode(ct).decode(), "iv": base64.b64encode(iv).decode()}
    return json.dumps(envelope).encode()


def raw_decrypt(body: bytes, secret: str) -> bytes:
    """AES-CBC decryption without unpadding, to look at what a key really yields."""
    env = json.loads(body)
    decryptor = Cipher(
        algorithms.AES(key_for(secret)), modes.CBC(base64.b64decode(env["iv"]))
    ).decryptor()
    return decryptor.update(base64.b64decode(env["notification"])) + decryptor.finalize()


def cart(version: Any, **extra: Any) -> dict[str, Any]:
    """A multi-line-item SALE as ClickBank sends it in 6.0-8.0 (an order bump and an upsell)."""
    payload: dict[str, Any] = {
        "transactionTime": "2024-06-05T10:15:30-07:00",
        "receipt": "CWOGBZLN",
        "transactionType": "SALE",
        "vendor": "acmevendor",
        "affiliate": "topaff",
        "role": "VENDOR",
        "totalAccountAmount": 71.37,
        "paymentMethod": "MSTR_APPLE",
        "totalOrderAmount": 121.94,
        "totalTaxAmount": 7.95,
        "totalShippingAmount": 0.00,
        "currency": "USD",
        "orderLanguage": "EN",
        "trackingCodes": ["fb_ad1", "summer"],
        "lineItems": [
            {
                "itemNo": "book1",
                "productTitle": "The Keto Book",
                "shippable": False,
                "recurring": False,
                "accountAmount": 25.10,
                "quantity": 1,
                "downloadUrl": "https://example.com/dl/book1",
                "productPrice": 37.00,
                "productDiscount": 0.00,
                "taxAmount": 2.95,
                "shippingAmount": 0.00,
                "shippingLiable": False,
                "lineItemType": "ORIGINAL",
                "affiliatePayout": 11.90,
                "jvPayout": 0.00,
            },
            {
                "itemNo": "bump2",
                "productTitle": "Meal plan bump",
                "shippable": False,
                "recurring": False,
                "accountAmount": 12.07,
                "quantity": 1,
                "productPrice": 17.00,
                "taxAmount": 1.00,
                "lineItemType": "BUMP",
            },
            {
                "itemNo": "club3",
                "productTitle": "Keto Club monthly",
                "shippable": False,
                "recurring": True,
                "accountAmount": 34.20,
                "quantity": 1,
                "productPrice": 59.99,
                "taxAmount": 4.00,
                "lineItemType": "UPSELL",
                "paymentsProcessed": 1,
                "paymentsRemaining": 11,
                "nextPaymentDate": "2024-07-05T10:15:30-07:00",
            },
        ],
        "customer": {
            "shipping": {
                "firstName": "Ana",
                "lastName": "Lima",
                "fullName": "Ana Lima",
                "phoneNumber": "+15555550100",
                "email": "ana.ship@example.com",
                "address": {
                    "address1": "1 Main St",
                    "city": "Boise",
                    "state": "ID",
                    "postalCode": "83702",
                    "country": "US",
                },
            },
            "billing": {
                "firstName": "Ana",
                "lastName": "Lima",
                "fullName": "Ana Lima",
                "email": "ana@example.com",
                "address": {"state": "ID", "postalCode": "83702", "country": "US"},
            },
        },
        "upsell": {
            "upsellOriginalReceipt": "CWOGBZLN",
            "upsellFlowId": 1234,
            "upsellSession": "XYZ",
            "upsellPath": "upsell1",
        },
        "hopfeed": {"hopfeedClickId": "abc"},
        "version": version,
        "attemptCount": 1,
        "vendorVariables": {"v1": "spring", "utm_source": "fb"},
    }
    payload.update(extra)
    return payload
