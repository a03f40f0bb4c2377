// SPDX-License-Identifier: Apache-2.0
//
// Bouncy Castle's view of an SM2 hierarchy served by keyholdd, for tests/integration/pki_sm2.sh:
// a verifier that shares no code with keyhold (nor with OpenSSL, which cannot check SM2 chains,
// CRLs or OCSP responses under the GM/T signer ID; PKI.md, "SM2 facts that bite").
//
// The signer ID: BC's "SM3withSM2" signature (GMSignatureSpi over SM2Signer) uses the GM/T 0009
// default distinguishing ID "1234567812345678" whenever no SM2ParameterSpec is set, and so do
// X509Certificate.verify and the ContentVerifierProvider below, which go through it. The `id`
// task makes that visible instead of assumed: the same signature verifies with no ID given and
// with the GM/T ID given explicitly, and fails with the empty ID that OpenSSL 3.0 would use.
//
// One JVM run checks everything (a JVM starts slowly). Arguments are a list of tasks:
//
//   chain ROOT.pem CHAIN.pem LEAF.pem   each link leaf -> intermediates -> root: signature
//                                       under the parent's key, names, validity now, CA bits;
//                                       then the whole path through BC's PKIX validator
//   crl ISSUER.pem CRL.der              signature (BC holder and JCA), issuer, number, delta
//                                       indicator, entries with their reasons
//   ocsp ISSUER.pem REQ.der RESP.der    status, signature, responder ID, the single response
//                                       for each CertID of the request, the nonce echoed
//   id ISSUER.pem CERT.pem              CERT's signature with the default, GM/T and empty IDs
//   pkix-crl ROOT.pem ISSUING.pem LEAF.pem CRL.der ROOT-CRL.der
//                                       BC's PKIX validation with revocation checking on the
//                                       CRLs (distribution point, signatures, reasons):
//                                       "valid" or "revoked REASON"
//
// A task written with a leading "!" (for instance "!crl") must be rejected because of a bad
// signature: that is how the script shows tampered copies fail. Output lines start with the
// task and the file's name; any task with the wrong outcome prints "FAIL ..." and the exit
// status is 1. Serials print as upper-case hex of whole bytes, as pki_sm2_check prints them.

import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.PublicKey;
import java.security.Security;
import java.security.Signature;
import java.security.SignatureException;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertStore;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Date;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ocsp.OCSPObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.CRLReason;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.X509CRLEntryHolder;
import org.bouncycastle.cert.X509CRLHolder;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.bouncycastle.cert.ocsp.BasicOCSPResp;
import org.bouncycastle.cert.ocsp.CertificateID;
import org.bouncycastle.cert.ocsp.CertificateStatus;
import org.bouncycastle.cert.ocsp.OCSPReq;
import org.bouncycastle.cert.ocsp.OCSPResp;
import org.bouncycastle.cert.ocsp.Req;
import org.bouncycastle.cert.ocsp.RespID;
import org.bouncycastle.cert.ocsp.RevokedStatus;
import org.bouncycastle.cert.ocsp.SingleResp;
import org.bouncycastle.cert.ocsp.UnknownStatus;
import org.bouncycastle.jcajce.spec.SM2ParameterSpec;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.ContentVerifierProvider;
import org.bouncycastle.operator.DigestCalculatorProvider;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;

public final class BcSm2Check {
    static final String SM2_WITH_SM3 = "1.2.156.10197.1.501";
    static final byte[] GMT_DEFAULT_ID = "1234567812345678".getBytes(StandardCharsets.US_ASCII);
    // RFC 5280 5.3.1 CRLReason names (7 is unused), as keyhold and pki_sm2_check print them.
    static final String[] REASONS = {
        "unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
        "cessationOfOperation", "certificateHold", null, "removeFromCRL", "privilegeWithdrawn",
        "aACompromise",
    };

    /** A check that did not pass; the message says which. */
    static final class Bad extends Exception {
        private static final long serialVersionUID = 1L;

        Bad(String message) {
            super(message);
        }
    }

    static CertificateFactory factory;

    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        factory = CertificateFactory.getInstance("X.509", "BC");
        int failures = 0;
        int i = 0;
        while (i < args.length) {
            String task = args[i++];
            boolean mustFail = task.startsWith("!");
            String name = mustFail ? task.substring(1) : task;
            int argc = arity(name);
            if (argc < 0 || i + argc > args.length) {
                System.out.println("FAIL usage: task " + task);
                System.exit(2);
            }
            String[] a = Arrays.copyOfRange(args, i, i + argc);
            i += argc;
            String file = new File(a[argc - 1]).getName();
            try {
                run(name, a);
                if (mustFail) {
                    System.out.println("FAIL " + name + " " + file
                            + ": accepted, should be rejected");
                    failures++;
                }
            } catch (Bad | SignatureException e) {
                if (mustFail) {
                    System.out.println("rejected " + name + " " + file + ": " + e.getMessage());
                } else {
                    System.out.println("FAIL " + name + " " + file + ": " + e.getMessage());
                    failures++;
                }
            } catch (Exception e) {
                // Anything else (a parse error, say) is no proof that the signature matters.
                System.out.println("FAIL " + name + " " + file + ": " + e);
                failures++;
            }
        }
        System.out.println(failures == 0 ? "bc: ok" : "bc: " + failures + " failed");
        System.exit(failures == 0 ? 0 : 1);
    }

    static int arity(String task) {
        switch (task) {
            case "chain":
            case "ocsp":
                return 3;
            case "crl":
            case "id":
                return 2;
            case "pkix-crl":
                return 5;
            default:
                return -1;
        }
    }

    static void run(String task, String[] a) throws Exception {
        switch (task) {
            case "chain":
                chain(a[0], a[1], a[2]);
                break;
            case "crl":
                crl(a[0], a[1]);
                break;
            case "ocsp":
                ocsp(a[0], a[1], a[2]);
                break;
            case "pkix-crl":
                pkixCrl(a[0], a[1], a[2], a[3], a[4]);
                break;
            default:
                id(a[0], a[1]);
                break;
        }
    }

    static List<X509Certificate> certs(String path) throws Exception {
        List<X509Certificate> out = new ArrayList<>();
        try (InputStream in = new FileInputStream(path)) {
            for (java.security.cert.Certificate c : factory.generateCertificates(in)) {
                out.add((X509Certificate) c);
            }
        }
        if (out.isEmpty()) {
            throw new Bad("no certificate in " + path);
        }
        return out;
    }

    static X509Certificate cert(String path) throws Exception {
        List<X509Certificate> all = certs(path);
        if (all.size() != 1) {
            throw new Bad(path + " holds " + all.size() + " certificates, wanted 1");
        }
        return all.get(0);
    }

    static String hex(BigInteger serial) {
        String h = serial.toString(16).toUpperCase();
        return h.length() % 2 == 0 ? h : "0" + h;
    }

    static String reason(int code) {
        boolean known = code >= 0 && code < REASONS.length && REASONS[code] != null;
        return known ? REASONS[code] : "invalid";
    }

    static ContentVerifierProvider verifier(X509Certificate issuer) throws Exception {
        return new JcaContentVerifierProviderBuilder().setProvider("BC").build(issuer);
    }

    // ---- chain ----

    static void link(X509Certificate child, X509Certificate parent) throws Exception {
        String who = child.getSubjectX500Principal().getName();
        if (!SM2_WITH_SM3.equals(child.getSigAlgOID())) {
            throw new Bad(who + ": signature algorithm " + child.getSigAlgOID());
        }
        if (!child.getIssuerX500Principal().equals(parent.getSubjectX500Principal())) {
            throw new Bad(who + ": issuer is not " + parent.getSubjectX500Principal().getName());
        }
        try {
            child.verify(parent.getPublicKey(), "BC"); // SM3withSM2, default (GM/T) ID
        } catch (SignatureException e) {
            throw new Bad("signature invalid: " + who + " under the key of "
                    + parent.getSubjectX500Principal().getName());
        }
        child.checkValidity(); // now
        boolean[] ku = parent.getKeyUsage();
        if (parent.getBasicConstraints() < 0 || ku == null || !ku[5]) {
            throw new Bad(parent.getSubjectX500Principal().getName() + ": no CA with keyCertSign");
        }
        System.out.println("chain link ok " + hex(child.getSerialNumber()) + " <- "
                + hex(parent.getSerialNumber()));
    }

    static void chain(String rootPath, String chainPath, String leafPath) throws Exception {
        X509Certificate root = cert(rootPath);
        X509Certificate leaf = cert(leafPath);
        List<X509Certificate> path = new ArrayList<>();
        path.add(leaf);
        for (X509Certificate c : certs(chainPath)) {
            if (!c.equals(root)) {
                path.add(c);
            }
        }
        if (path.size() < 2) {
            throw new Bad("no intermediate in " + chainPath);
        }
        List<X509Certificate> full = new ArrayList<>(path);
        full.add(root);
        for (int i = 0; i + 1 < full.size(); i++) {
            link(full.get(i), full.get(i + 1));
        }
        link(root, root); // self-signed
        // The same path through BC's RFC 5280 path validation (no revocation: the CRLs and
        // OCSP answers are checked on their own below).
        CertPath cp = factory.generateCertPath(path);
        PKIXParameters params =
                new PKIXParameters(Collections.singleton(new TrustAnchor(root, null)));
        params.setRevocationEnabled(false);
        params.setDate(new Date());
        CertPathValidator.getInstance("PKIX", "BC").validate(cp, params);
        System.out.println("chain " + new File(leafPath).getName() + " ok depth " + full.size());
    }

    // ---- CRL ----

    static void crl(String issuerPath, String crlPath) throws Exception {
        X509Certificate issuer = cert(issuerPath);
        byte[] der = Files.readAllBytes(new File(crlPath).toPath());
        String file = new File(crlPath).getName();
        X509CRLHolder h = new X509CRLHolder(der);
        String alg = h.toASN1Structure().getSignatureAlgorithm().getAlgorithm().getId();
        if (!SM2_WITH_SM3.equals(alg)) {
            throw new Bad("signature algorithm " + alg);
        }
        if (!h.isSignatureValid(verifier(issuer))) {
            throw new Bad("signature invalid");
        }
        // Again through the JCA CRL class, which the PKIX code paths of applications use.
        X509CRL jca = (X509CRL) factory.generateCRL(new java.io.ByteArrayInputStream(der));
        try {
            jca.verify(issuer.getPublicKey(), "BC");
        } catch (SignatureException e) {
            throw new Bad("signature invalid (JCA)");
        }
        X500Name issuerName = X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded());
        if (!h.getIssuer().equals(issuerName)) {
            throw new Bad("issuer " + h.getIssuer() + " is not the CA's subject");
        }
        Extension num = h.getExtension(Extension.cRLNumber);
        if (num == null) {
            throw new Bad("no CRL number"); // RFC 5280 5.2.3
        }
        String number = ASN1Integer.getInstance(num.getParsedValue()).getValue().toString();
        Extension delta = h.getExtension(Extension.deltaCRLIndicator);
        String base = "-";
        if (delta != null) {
            if (!delta.isCritical()) {
                throw new Bad("deltaCRLIndicator not critical"); // RFC 5280 5.2.4
            }
            base = ASN1Integer.getInstance(delta.getParsedValue()).getValue().toString();
        }
        System.out.println("crl " + file + " ok number " + number + " delta " + base);
        for (Object o : h.getRevokedCertificates()) {
            X509CRLEntryHolder e = (X509CRLEntryHolder) o;
            Extension r = e.getExtension(Extension.reasonCode);
            String why = r == null ? "none"
                    : reason(CRLReason.getInstance(r.getParsedValue()).getValue().intValue());
            System.out.println("crl " + file + " entry " + hex(e.getSerialNumber()) + " " + why);
        }
    }

    static X509CRL jcaCrl(String path) throws Exception {
        try (InputStream in = new FileInputStream(path)) {
            return (X509CRL) factory.generateCRL(in);
        }
    }

    // The leaf's status as a relying party that checks CRLs would find it: BC's PKIX validator
    // fetches nothing, so the CRLs come in a CertStore; it matches them to the certificates'
    // issuers and distribution points and checks their SM2 signatures itself.
    static void pkixCrl(String rootPath, String issuingPath, String leafPath, String crlPath,
            String rootCrlPath) throws Exception {
        X509Certificate root = cert(rootPath);
        X509Certificate issuing = cert(issuingPath);
        X509Certificate leaf = cert(leafPath);
        List<Object> objects = Arrays.asList(issuing, jcaCrl(crlPath), jcaCrl(rootCrlPath));
        PKIXParameters params =
                new PKIXParameters(Collections.singleton(new TrustAnchor(root, null)));
        params.addCertStore(CertStore.getInstance("Collection",
                new CollectionCertStoreParameters(objects), "BC"));
        params.setRevocationEnabled(true);
        params.setDate(new Date());
        String file = new File(leafPath).getName();
        try {
            CertPathValidator.getInstance("PKIX", "BC")
                    .validate(factory.generateCertPath(Arrays.asList(leaf, issuing)), params);
            System.out.println("pkix-crl " + file + " valid");
        } catch (CertPathValidatorException e) {
            // BC says "Certificate revocation after <date>, reason: <name>".
            Matcher m = Pattern.compile("^Certificate revocation after .*reason: (\\w+)")
                    .matcher(String.valueOf(e.getMessage()));
            if (!m.find()) {
                throw new Bad("path rejected: " + e.getMessage());
            }
            System.out.println("pkix-crl " + file + " revoked " + m.group(1));
        }
    }

    // ---- OCSP ----

    static void ocsp(String issuerPath, String reqPath, String respPath) throws Exception {
        X509Certificate issuer = cert(issuerPath);
        X509CertificateHolder issuerHolder = new JcaX509CertificateHolder(issuer);
        String file = new File(respPath).getName();
        OCSPReq req = new OCSPReq(Files.readAllBytes(new File(reqPath).toPath()));
        OCSPResp resp = new OCSPResp(Files.readAllBytes(new File(respPath).toPath()));
        if (resp.getStatus() != OCSPResp.SUCCESSFUL) {
            throw new Bad("response status " + resp.getStatus());
        }
        BasicOCSPResp basic = (BasicOCSPResp) resp.getResponseObject();
        if (!SM2_WITH_SM3.equals(basic.getSignatureAlgOID().getId())) {
            throw new Bad("signature algorithm " + basic.getSignatureAlgOID());
        }
        if (!basic.isSignatureValid(verifier(issuer))) {
            throw new Bad("signature invalid");
        }
        DigestCalculatorProvider digests =
                new JcaDigestCalculatorProviderBuilder().setProvider("BC").build();
        // RFC 6960 4.2.2.3: keyhold names itself by the SHA-1 hash of the CA's key.
        RespID byKey = new RespID(issuerHolder.getSubjectPublicKeyInfo(),
                digests.get(CertificateID.HASH_SHA1));
        if (!basic.getResponderId().equals(byKey)) {
            throw new Bad("responder ID is not the issuer's key hash");
        }
        for (Req r : req.getRequestList()) {
            CertificateID id = r.getCertID();
            SingleResp single = null;
            for (SingleResp s : basic.getResponses()) {
                if (s.getCertID().equals(id)) {
                    single = s;
                }
            }
            if (single == null) {
                throw new Bad("no answer for serial " + hex(id.getSerialNumber()));
            }
            if (!single.getCertID().matchesIssuer(issuerHolder, digests)) {
                throw new Bad("CertID does not name the issuer");
            }
            CertificateStatus st = single.getCertStatus();
            String status;
            if (st == CertificateStatus.GOOD) {
                status = "good";
            } else if (st instanceof RevokedStatus) {
                RevokedStatus rs = (RevokedStatus) st;
                status = "revoked "
                        + (rs.hasRevocationReason() ? reason(rs.getRevocationReason()) : "none");
            } else if (st instanceof UnknownStatus) {
                status = "unknown";
            } else {
                throw new Bad("status " + st);
            }
            System.out.println("ocsp " + file + " " + hex(id.getSerialNumber()) + " " + status);
        }
        // RFC 8954: the nonce comes back unchanged.
        Extension qn = req.getExtension(OCSPObjectIdentifiers.id_pkix_ocsp_nonce);
        if (qn != null) {
            Extension an = basic.getExtension(OCSPObjectIdentifiers.id_pkix_ocsp_nonce);
            if (an == null) {
                throw new Bad("nonce not echoed");
            }
            byte[] q = ASN1OctetString.getInstance(qn.getParsedValue()).getOctets();
            byte[] n = ASN1OctetString.getInstance(an.getParsedValue()).getOctets();
            if (!Arrays.equals(q, n)) {
                throw new Bad("nonce differs");
            }
            System.out.println("ocsp " + file + " nonce ok");
        }
    }

    // ---- the signer ID matters ----

    static boolean verifyWithId(X509Certificate cert, PublicKey key, byte[] id) throws Exception {
        Signature s = Signature.getInstance("SM3withSM2", "BC");
        if (id != null) {
            s.setParameter(new SM2ParameterSpec(id)); // before initVerify, which reads it
        }
        s.initVerify(key);
        s.update(cert.getTBSCertificate());
        return s.verify(cert.getSignature());
    }

    static void id(String issuerPath, String certPath) throws Exception {
        PublicKey key = cert(issuerPath).getPublicKey();
        X509Certificate c = cert(certPath);
        String file = new File(certPath).getName();
        if (!verifyWithId(c, key, null)) {
            throw new Bad("no verification with BC's default ID");
        }
        if (!verifyWithId(c, key, GMT_DEFAULT_ID)) {
            throw new Bad("no verification with the GM/T ID given explicitly");
        }
        if (verifyWithId(c, key, new byte[0])) {
            throw new Bad("verifies with the empty ID as well");
        }
        System.out.println("id " + file + " default-id ok gmt-id ok empty-id rejected");
    }
}
