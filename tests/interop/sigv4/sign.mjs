// SPDX-License-Identifier: Apache-2.0
//
// Signs requests with the AWS SDK's own SigV4 signer (@smithy/signature-v4) and writes each, as
// it would go on the wire, to <dir>/<set>/<case>.http, for sigv4_interop to verify. The "suite"
// set rebuilds cases of the AWS SigV4 test suite (credentials AKIDEXAMPLE, us-east-1, service
// "service", 20150830T123600Z); the "xks" set signs XKS-like requests for kms-xks-proxy, with
// the SDK's default x-amz-content-sha256 header. Prints "<set>/<case> <signature>" per case.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
const signingDate = new Date(Date.UTC(2015, 7, 30, 12, 36, 0));

// The SDK's query encoding (RFC 3986 unreserved kept), to write the request target.
const escape = (s) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

const sets = {
  suite: {
    service: "service",
    applyChecksum: false,
    cases: {
      "get-vanilla": { method: "GET", path: "/" },
      "get-vanilla-query-order-key-case": {
        method: "GET", path: "/", query: { Param2: "value2", Param1: "value1" },
      },
      "get-vanilla-query-unreserved": {
        method: "GET", path: "/",
        query: {
          "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
            "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        },
      },
      "get-vanilla-utf8-query": { method: "GET", path: "/", query: { "\u1234": "bar" } },
      "get-utf8": { method: "GET", path: "/\u1234" },
      "get-space": { method: "GET", path: "/example space/" },
      "get-slashes": { method: "GET", path: "//example//" },
      "get-relative-relative": { method: "GET", path: "/example1/example2/../.." },
      "get-unreserved": {
        method: "GET", path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      },
      "get-header-value-trim": {
        method: "GET", path: "/", headers: { "My-Header1": " value1", "My-Header2": ' "a   b   c"' },
      },
      "get-vanilla-query-order-value": {
        method: "GET", path: "/", query: { Param1: ["value2", "Value1"] },
      },
      "get-vanilla-empty-query-key": { method: "GET", path: "/", query: { Param1: "value1" } },
      "get-slash": { method: "GET", path: "//" },
      "get-slash-dot-slash": { method: "GET", path: "/./" },
      "get-slash-pointless-dot": { method: "GET", path: "/./example" },
      "get-relative": { method: "GET", path: "/example/.." },
      // The suite sends these as repeated headers; one header with the values joined by ','
      // has the same canonical form.
      "get-header-key-duplicate": {
        method: "GET", path: "/", headers: { "My-Header1": "value2,value2,value1" },
      },
      "get-header-value-order": {
        method: "GET", path: "/", headers: { "My-Header1": "value4,value1,value3,value2" },
      },
      "post-vanilla": { method: "POST", path: "/" },
      "post-vanilla-query": { method: "POST", path: "/", query: { Param1: "value1" } },
      "post-header-key-sort": { method: "POST", path: "/", headers: { "My-Header1": "value1" } },
      "post-header-value-case": { method: "POST", path: "/", headers: { "My-Header1": "VALUE1" } },
      "post-x-www-form-urlencoded": {
        method: "POST", path: "/",
        headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "Param1=value1",
      },
    },
  },
  xks: {
    service: "kms-xks-proxy",
    applyChecksum: true,
    host: "xks.example.com:8443",
    cases: {
      encrypt: {
        method: "POST", path: "/keyhold/kms/xks/v1/keys/k1/encrypt",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          requestMetadata: { kmsRequestId: "r-1", kmsOperation: "Encrypt" },
          plaintext: "SGVsbG8=", encryptionAlgorithm: "AES_GCM",
        }),
      },
      "encoded-path": {
        method: "POST", path: "/keyhold/kms/xks/v1/keys/a%2Fb%20c/metadata",
        headers: { "Content-Type": "application/json" }, body: "{}",
      },
      "reserved-query": {
        method: "GET", path: "/keyhold/", query: { "b key": "x/y=z&w", a: "1+1", c: "" },
      },
    },
  },
};

const out = process.argv[2];
for (const [setName, set] of Object.entries(sets)) {
  const signer = new SignatureV4({
    credentials, region: "us-east-1", service: set.service, sha256: Sha256,
    applyChecksum: set.applyChecksum,
  });
  mkdirSync(join(out, setName), { recursive: true });
  for (const [name, c] of Object.entries(set.cases)) {
    const body = c.body ?? "";
    const request = {
      method: c.method, protocol: "https:", hostname: "example.amazonaws.com", path: c.path,
      query: c.query ?? {}, headers: { host: set.host ?? "example.amazonaws.com", ...c.headers },
      body: body === "" ? undefined : body,
    };
    const signed = await signer.sign(request, { signingDate });
    const query = Object.entries(c.query ?? {}).flatMap(([k, v]) =>
      (Array.isArray(v) ? v : [v]).map((x) => `${escape(k)}=${escape(x)}`));
    const target = c.path + (query.length > 0 ? "?" + query.join("&") : "");
    let text = `${c.method} ${target} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(signed.headers)) text += `${k}:${v}\r\n`;
    text += "\r\n";
    writeFileSync(join(out, setName, name + ".http"), Buffer.concat([
      Buffer.from(text, "utf8"), Buffer.from(body, "utf8"),
    ]));
    const sig = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)[1];
    console.log(`${setName}/${name} ${sig}`);
  }
}
