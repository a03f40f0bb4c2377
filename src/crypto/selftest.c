/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power-on self-test: before keyholdd serves (and on `keyhold selftest`), every primitive
 * computes a published known answer, or, where the primitive is randomised, verifies a known
 * signature and passes a pairwise consistency check (sign then verify, encrypt then decrypt,
 * split then combine) with a tampered input refused. A failure means this build or this
 * library must not be trusted with keys, so the caller stops.
 *
 * Vectors: FIPS 180-4 and GM/T 0004-2012 ("abc"), RFC 4231 case 2, RFC 5869 A.1, McGrew-Viega
 * GCM test case 16, RFC 8439 2.8.2, RFC 5649 section 6, RFC 8032 7.1 test 1; the SM4
 * composition's vector comes from tests/data/gen_sm4_aead_vectors.sh, and the RSA, ECDSA and
 * SM2 outputs from tests/data/gen_sign_vectors.sh (the openssl command line).
 */
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "crypto/kh_shamir_int.h"

enum {
	SELFTEST_MAX = 4096
};

/* Decodes a hex literal of this file into b (programmer error if it is not hex). */
static kh_rc hex(const char *text, struct kh_buf *b)
{
	kh_buf_init(b, SELFTEST_MAX, KH_BUF_SECURE);
	return kh_hex_decode(kh_slice_from_cstr(text), b);
}

static kh_rc expect(struct kh_slice got, const char *want_hex)
{
	struct kh_buf want;
	kh_rc rc;

	KH_GUARD_OUT(hex(want_hex, &want));
	rc = kh_ct_eq(got, kh_buf_slice(&want)) ? KH_OK : KH_ERR_INTERNAL;
out:
	kh_buf_cleanup(&want);
	return rc;
}

static kh_rc kat_hash(enum kh_hash alg, const char *want)
{
	uint8_t md[KH_HASH_MAX_LEN];

	KH_GUARD(kh_hash(alg, KH_SLICE_LIT("abc"), md, sizeof(md)));
	return expect(KH_SLICE(md, kh_hash_len(alg)), want);
}

static kh_rc kat_digests(void)
{
	KH_GUARD(kat_hash(KH_HASH_SHA256,
	                  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	KH_GUARD(kat_hash(KH_HASH_SHA384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a"
	                                  "43ff5bed8086072ba1e7cc2358baeca134c825a7"));
	KH_GUARD(
	    kat_hash(KH_HASH_SHA512,
	             "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a27"
	             "4fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"));
	return kat_hash(KH_HASH_SM3,
	                "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

static kh_rc kat_hmac_hkdf(void)
{
	uint8_t out[42];
	struct kh_buf ikm, salt, info;
	kh_rc rc;

	/* RFC 4231 test case 2 */
	KH_GUARD(kh_hmac(KH_HASH_SHA256, KH_SLICE_LIT("Jefe"),
	                 KH_SLICE_LIT("what do ya want for nothing?"), out, sizeof(out)));
	KH_GUARD(expect(KH_SLICE(out, 32),
	                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
	KH_ENSURE(kh_hmac_verify(KH_HASH_SHA256, KH_SLICE_LIT("Jefe"),
	                         KH_SLICE_LIT("what do ya want for nothing!"),
	                         KH_SLICE(out, 32)) == KH_ERR_BAD_SIGNATURE,
	          KH_ERR_INTERNAL);
	/* RFC 5869 A.1 */
	kh_buf_init(&salt, 0, KH_BUF_PLAIN);
	kh_buf_init(&info, 0, KH_BUF_PLAIN);
	KH_GUARD_OUT(hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", &ikm));
	KH_GUARD_OUT(hex("000102030405060708090a0b0c", &salt));
	KH_GUARD_OUT(hex("f0f1f2f3f4f5f6f7f8f9", &info));
	KH_GUARD_OUT(kh_hkdf(KH_HASH_SHA256, kh_buf_slice(&ikm), kh_buf_slice(&salt),
	                     kh_buf_slice(&info), out, sizeof(out)));
	rc = expect(KH_SLICE(out, sizeof(out)), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5d"
	                                        "b02d56ecc4c5bf34007208d5b887185865");
out:
	kh_buf_cleanup(&ikm);
	kh_buf_cleanup(&salt);
	kh_buf_cleanup(&info);
	return rc;
}

struct aead_kat {
	enum kh_aead alg;
	const char *key, *nonce, *aad, *pt, *ct, *tag;
};

static const struct aead_kat aead_kats[] = {
    /* McGrew-Viega test case 16 */
    {KH_AEAD_AES_256_GCM, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
     "49a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
     "56828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    /* RFC 8439 2.8.2 */
    {KH_AEAD_CHACHA20_POLY1305, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
     "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7",
     "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a2049662049"
     "20636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572652c"
     "2073756e73637265656e20776f756c642062652069742e",
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da"
     "92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585"
     "808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
     "1ae10b594f09e26a7e902ecbd0600691"},
    /* tests/data/gen_sm4_aead_vectors.sh, second vector */
    {KH_AEAD_SM4_CTR_HMAC_SM3, "000102030405060708090a0b0c0d0e0f0123456789abcdeffedcba9876543210",
     "202122232425262728292a2b", "6b6579686f6c6420736d34206161642074657374",
     "7369787465656e206279746520626c6b7369787465656e206279746520626c6b",
     "e7acfd11dfa100c328f395bd0fca1286772911027d19cdf5edcbc1ef11f13bbd",
     "7b94bb8f30a29c1e49b255b6387e8c04"},
};

static kh_rc kat_aead_one(const struct aead_kat *v)
{
	struct kh_buf key, nonce, aad, pt, ct, tag;
	struct kh_aead_key *k = NULL;
	uint8_t got[256];
	uint8_t got_tag[KH_AEAD_TAG_LEN];
	kh_rc rc;

	kh_buf_init(&key, 0, KH_BUF_SECURE);
	kh_buf_init(&nonce, 0, KH_BUF_SECURE);
	kh_buf_init(&aad, 0, KH_BUF_SECURE);
	kh_buf_init(&pt, 0, KH_BUF_SECURE);
	kh_buf_init(&ct, 0, KH_BUF_SECURE);
	kh_buf_init(&tag, 0, KH_BUF_SECURE);
	KH_GUARD_OUT(hex(v->key, &key));
	KH_GUARD_OUT(hex(v->nonce, &nonce));
	KH_GUARD_OUT(hex(v->aad, &aad));
	KH_GUARD_OUT(hex(v->pt, &pt));
	KH_GUARD_OUT(hex(v->ct, &ct));
	KH_GUARD_OUT(hex(v->tag, &tag));
	KH_ENSURE_OUT(pt.len <= sizeof(got), KH_ERR_INTERNAL);
	KH_GUARD_OUT(kh_aead_key_new(v->alg, kh_buf_slice(&key), &k));
	KH_GUARD_OUT(kh_aead_seal(k, kh_buf_slice(&nonce), kh_buf_slice(&aad), kh_buf_slice(&pt),
	                          got, got_tag));
	KH_GUARD_OUT(expect(KH_SLICE(got, ct.len), v->ct));
	KH_GUARD_OUT(expect(KH_SLICE(got_tag, sizeof(got_tag)), v->tag));
	KH_GUARD_OUT(kh_aead_open(k, kh_buf_slice(&nonce), kh_buf_slice(&aad), kh_buf_slice(&ct),
	                          kh_buf_slice(&tag), got));
	KH_GUARD_OUT(expect(KH_SLICE(got, pt.len), v->pt));
	/* A changed tag must be refused. */
	got_tag[0] ^= 1;
	KH_ENSURE_OUT(kh_aead_open(k, kh_buf_slice(&nonce), kh_buf_slice(&aad), kh_buf_slice(&ct),
	                           KH_SLICE(got_tag, sizeof(got_tag)), got) == KH_ERR_DECRYPT,
	              KH_ERR_INTERNAL);
	rc = KH_OK;
out:
	kh_aead_key_free(&k);
	kh_wipe(got, sizeof(got));
	kh_buf_cleanup(&key);
	kh_buf_cleanup(&nonce);
	kh_buf_cleanup(&aad);
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&tag);
	return rc;
}

static kh_rc kat_aeads(void)
{
	for (size_t i = 0; i < sizeof(aead_kats) / sizeof(aead_kats[0]); i++)
		KH_GUARD(kat_aead_one(&aead_kats[i]));
	return KH_OK;
}

static kh_rc kat_keywrap(void)
{
	struct kh_buf kek, key, wrapped, back;
	kh_rc rc;

	kh_buf_init(&kek, 0, KH_BUF_SECURE);
	kh_buf_init(&key, 0, KH_BUF_SECURE);
	kh_buf_init(&wrapped, SELFTEST_MAX, KH_BUF_PLAIN);
	kh_buf_init(&back, SELFTEST_MAX, KH_BUF_SECURE);
	/* RFC 5649 section 6, 20 octets under a 192-bit KEK */
	KH_GUARD_OUT(hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", &kek));
	KH_GUARD_OUT(hex("c37b7e6492584340bed12207808941155068f738", &key));
	KH_GUARD_OUT(kh_keywrap_wrap(kh_buf_slice(&kek), kh_buf_slice(&key), &wrapped));
	KH_GUARD_OUT(expect(kh_buf_slice(&wrapped),
	                    "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"));
	KH_GUARD_OUT(kh_keywrap_unwrap(kh_buf_slice(&kek), kh_buf_slice(&wrapped), &back));
	KH_ENSURE_OUT(kh_ct_eq(kh_buf_slice(&back), kh_buf_slice(&key)), KH_ERR_INTERNAL);
	wrapped.ptr[5] ^= 0x80;
	kh_buf_clear(&back);
	KH_ENSURE_OUT(kh_keywrap_unwrap(kh_buf_slice(&kek), kh_buf_slice(&wrapped), &back) ==
	                  KH_ERR_DECRYPT,
	              KH_ERR_INTERNAL);
	rc = KH_OK;
out:
	kh_buf_cleanup(&kek);
	kh_buf_cleanup(&key);
	kh_buf_cleanup(&wrapped);
	kh_buf_cleanup(&back);
	return rc;
}

static kh_rc kat_shamir(void)
{
	static const uint8_t secret[32] = "keyhold shamir self-test secret";
	struct kh_buf shares[5], out;
	struct kh_slice pick[3];
	kh_rc rc;

	/* FIPS 197 4.2: {57} x {83} = {c1}; the inverse is a fixed exponent chain. */
	KH_ENSURE(kh_gf256_mul(0x57, 0x83) == 0xc1, KH_ERR_INTERNAL);
	KH_ENSURE(kh_gf256_mul(0x53, kh_gf256_inv(0x53)) == 1, KH_ERR_INTERNAL);
	for (size_t i = 0; i < 5; i++)
		kh_buf_init(&shares[i], 128, KH_BUF_SECURE);
	kh_buf_init(&out, 64, KH_BUF_SECURE);
	KH_GUARD_OUT(kh_shamir_split(KH_SLICE(secret, sizeof(secret)), 5, 3, shares));
	pick[0] = kh_buf_slice(&shares[4]);
	pick[1] = kh_buf_slice(&shares[0]);
	pick[2] = kh_buf_slice(&shares[2]);
	KH_GUARD_OUT(kh_shamir_combine(pick, 3, &out, NULL));
	KH_ENSURE_OUT(kh_ct_eq(kh_buf_slice(&out), KH_SLICE(secret, sizeof(secret))),
	              KH_ERR_INTERNAL);
	shares[0].ptr[20] ^= 1; /* a mistyped share is refused */
	kh_buf_clear(&out);
	KH_ENSURE_OUT(kh_shamir_combine(pick, 3, &out, NULL) == KH_ERR_BAD_SHARE, KH_ERR_INTERNAL);
	rc = KH_OK;
out:
	for (size_t i = 0; i < 5; i++)
		kh_buf_cleanup(&shares[i]);
	kh_buf_cleanup(&out);
	return rc;
}

/*
 * Test keys and outputs from tests/data/pkey/ (made by tests/data/gen_sign_vectors.sh with the
 * openssl command line). These keys protect nothing; they exist to check this build.
 */
static const char rsa2048_key[] =
    "308204bd020100300d06092a864886f70d0101010500048204a7308204a30201000282010100b7b8374c95cd"
    "3373b0c73abdd304fc7072efcb92cd268222f5f164f353f9b12b414d445ce5efae3f55ff5246215fc8a1149a"
    "eb0964765a61f592eea798149f9d29c09d75618ae5be85c820fa2faaaff794f7b46077cdd2bf01032e0a5ee8"
    "7101a113d056106d6b263723cd32dbdec8b57198d70e7f743c749a977970bce2c209f5ff4e9aba627afd3a6e"
    "3f65e508ef5b7c4b470f560f1407afb0350a25f65028f1aede76f52d1e6a8029116c0e3f776c91cdb63113e2"
    "69d12f5ef09cee1496ed502bad6684c09f97ed1eff26d6c2582b5a5e9ac70dabf9fc800a67945ff7aa39173c"
    "fd3b4e16cf8a6e1a98d1119c14fbc9b24e19b3ad139cceb1b9980591ae5d020301000102820100083c6fee35"
    "00ffff7dbb50bcd5caf16e3118e2ed6fd8fc1889220b3e85533a481023609f3187af2e13b2e0835857acecdb"
    "b99e33cb972ab21d8a3abcb4aaa80529ac02e3123e61d24ab910116735a5b1d9b1c91a52049e2005f1988cca"
    "786d287f8a1ddadddda9e20ab2c62e3381274a4b0f6904b35e089fc99664d153066f6063581c79e94a1466a7"
    "912fd9e42159de9b8e4d3ed72c4c340b221daebe98a5b9f6b707c14ae3277c47e5cb874eb6ea62ea8866cccf"
    "71b18d927d0f34ff1400d5796a2eb681c843479f993d4e2fe60b518749bac2ac7e908f6ef812134cc46e806a"
    "bbb1883255d8552d38d2ee68ee952f279832e996063591c383b747da1e700102818100f5b8a5d9e4080cc02a"
    "3a92209d07f1105efb39ca6a9099ac8367f0b813b999b336db9f2bce5b5188383c11af66f6a1331408c4e96e"
    "ac55b407740f4c35ea2a562d98a85438ccb5756215ed70cf4c70fd2c6aef01437923b857f71b745effb8b163"
    "9a9d4a494fd98cf9b5c0c055b89d9eddfdcfd222133192c68a5b0994586a0102818100bf679c8d72d8cd5332"
    "b88518525a0b5dfc4bf94d98cab000434594ee8a2fc9ecb76d6f03d1e977e3e73347707a212e97dd53e68b3d"
    "7a4e08efec206542195a8312924fc5bff2c6c4b5d489227e4a941778c70dd9b8a9f1ccff839bfea5270f4189"
    "ccdf83f035bcbdb617cdd9ad567920e79435a0e3008ff61221e5d3813b2c5d02818036bf7f647ee4344314a5"
    "9c2d5c0f8aec84dd20d132d1290c40f305b55ddfba992d9ddd671b4149773a6057e866de88a822cc9963115f"
    "a070ce4053b03d4b0147d63cef3464bb67aad1c1e4f77f989e8c2a3b61293ce95ec6120362c098f20d2aa8f0"
    "a81f071a9d7445a6f35d673c0d127a8fb4a0332b679e3652595a570d24010281810093c7c3afd28461c362dd"
    "e4a52ab02b269dad6b06e67957fa5bf6554ef7927e2d2e5267ec631e075b071f2881474a675709a3c5d4abda"
    "ca754c08dbda527690d3b27b14ec718f58b8784b68b6211c23cb1b8d54bc4d3fa959c5ce2f9b24984bc72645"
    "f02d4641b740225faea7ea9561606e6c981b6828fefdd67225a86f96e8610281803724044fc3f82f7b671e2a"
    "010c26ca4993a6fbbc50a03e42eeeca09dd54033aaa09c403412f16c005bda1e1320df9e5a2132eec435beb7"
    "a4c9b4f012016dd276d52210a757c7b7e68a686a0161c82eec34f45c97050ddf9e8e445bd688516d6367b402"
    "85cf10d0e3dedad6f2c24e8ca4215d9f5a9aff1fe4fc74b7a08bd32cbf";

static const char rsa2048_pkcs1_sig[] =
    "61b227c36e76789856578eefc907ebb35e14ea2d8aac64c620aa7628b90ed62ec77ab395f2ce6fa890d915d5"
    "99238223b304fbeb599e100fe83417bba92d26b783d97cb9effd950e47b1fe3a52cd004e5a6a593e0f0d5112"
    "54c62d9c062974fb29414d67ea309ddc9267e71b9a89363c886e42982adb4ae999567096c7024917ab5b7c03"
    "c5d9def7de1d862702f892e00c9d581b8c21b26e1e7aea4043f6e52dfef76401c0f9dbd876274acbbb86236f"
    "0a06a84fa4445d35b8e769bf8e04d6f46d8789e7040922dbe91af5df225b903c4496b9e0b0bed92f5c9bd9ba"
    "1f932c096a595620f28efc804ed569ee881b469d74c1204e5e68530ebee9121f827afdce";

static const char rsa2048_oaep_ct[] =
    "9db6e0dc306564788cb9ec0bd521f481913834ecc9386916698daf86613f39dbeb14381b40207982e009f874"
    "d52eecbedd3187d26625fbd48b82025bd6616ad9323b66989e8ff3ebce518e154708ee1beff5cf59e2208e87"
    "066cfe866d75d37086d4867a6b04f8fd5aa3fac9dc2e25c1c046f0945474b94120aa77db58617ad5b5771eff"
    "968293425118b06f3e705d929e7c8ddec1724ae15423054adbe351fa6b7f51f9fe41e66461f552948488e5d3"
    "da7b9791ce47769992b4ce272dc361618e4b015690b1c9b0a508ffdeb9307747dd88c112ce5af460f5e0c005"
    "adebab49841454fe2e862edaec793b24f4ac98f403510a3ce9d41a32f4ec012024b188fc";

static const char oaep_pt[] =
    "6b6579686f6c64206173796d6d657472696320656e6372797074696f6e2074657374";

static const char p256_pub[] =
    "3059301306072a8648ce3d020106082a8648ce3d030107034200046b181c3ec6d485edb541658011fd8e4759"
    "678f0013601d8ed17eca3cbcc4de1fad705672e34257a94d918456c0b4782f0096ca344cfd7b62e2d9125181"
    "0b1b60";

static const char p256_sig[] =
    "304402207f37f52f2b519971838f80dd90cdf5998968d167eb772188cf487eb8c3c4153102200f59ab694563"
    "4f5db499aee0d07a410d4bd07d9c2f3adefe68ac907c60e9c13f";

static const char sm2_key[] =
    "308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420a34e5a6cb00d61c5"
    "ff7ac5d54dd8bb73e9cad8dd89dd7e333f6555e8d573e8b6a14403420004a1812b80908dac0c921ed28672d9"
    "46a5fe51f4c4f66ee5edc92425b906e2aecbfb7145b5ec2134e248abce5fc2736353cc715a7e8c1fd9455e34"
    "1c88606e3af3";

static const char sm2_sig[] =
    "304402202a17dee30ab86000babcc9668d5e0e08c4324d0886980f8406c943301244a3af022013d70bb0489d"
    "fe8b234e8d66d270b389d560c9357fc1c9a4d0a23a54755b54d0";

static const char sm2_ct[] =
    "30818a0220019d2d0230ebf01c4d4e5e7213243b9046feb8ee38b553aa08cb1fd5f60a8fcf02205bd816eb60"
    "34669a472d3f8226320e09a5c08cca5536dfdac09cd63aab3cb0c5042043ed3c4f55e61eccbcd43eec377389"
    "9de9cbbfebb84406d759e96675c6371fa60422d388c21998a32a61e3cc12ae42fe3d359409cba9778b72f8c9"
    "de804e96d94f8a9170";

/* RFC 8032 7.1 TEST 1: the seed in PKCS#8 (RFC 8410), the empty message's signature. */
static const char ed25519_key[] =
    "302e020100300506032b657004220420"
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char ed25519_sig[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
    "b46bd25bf5f0595bbe24655141438e7a100b";

static kh_rc import_hex(const char *text, bool private_key, struct kh_pkey **out)
{
	struct kh_buf der;
	kh_rc rc;

	KH_GUARD_OUT(hex(text, &der));
	rc = private_key ? kh_pkey_import_private(kh_buf_slice(&der), out)
	                 : kh_pkey_import_public(kh_buf_slice(&der), out);
out:
	kh_buf_cleanup(&der);
	return rc;
}

/* Signs msg with alg, expects want_hex when the scheme is deterministic (else NULL), verifies
 * with key, and checks that a changed message is refused. */
static kh_rc sign_check(const struct kh_pkey *key, enum kh_sig_alg alg, struct kh_slice msg,
                        const char *want_hex)
{
	struct kh_buf sig;
	uint8_t other[64];
	kh_rc rc;

	kh_buf_init(&sig, SELFTEST_MAX, KH_BUF_PLAIN);
	KH_ENSURE(msg.len < sizeof(other), KH_ERR_INTERNAL);
	KH_GUARD_OUT(kh_pkey_sign(key, alg, msg, KH_SLICE_EMPTY, &sig));
	if (want_hex != NULL)
		KH_GUARD_OUT(expect(kh_buf_slice(&sig), want_hex));
	KH_GUARD_OUT(kh_pkey_verify(key, alg, msg, KH_SLICE_EMPTY, kh_buf_slice(&sig)));
	if (msg.len > 0)
		memcpy(other, msg.ptr, msg.len);
	other[msg.len] = 'x';
	KH_ENSURE_OUT(kh_pkey_verify(key, alg, KH_SLICE(other, msg.len + 1), KH_SLICE_EMPTY,
	                             kh_buf_slice(&sig)) == KH_ERR_BAD_SIGNATURE,
	              KH_ERR_INTERNAL);
	rc = KH_OK;
out:
	kh_buf_cleanup(&sig);
	return rc;
}

/* Verifies a known signature over "abc". */
static kh_rc verify_known(const struct kh_pkey *key, enum kh_sig_alg alg, const char *sig_hex)
{
	struct kh_buf sig;
	kh_rc rc;

	KH_GUARD_OUT(hex(sig_hex, &sig));
	rc = kh_pkey_verify(key, alg, KH_SLICE_LIT("abc"), KH_SLICE_EMPTY, kh_buf_slice(&sig));
out:
	kh_buf_cleanup(&sig);
	return rc;
}

/* Decrypts a known ciphertext, then round-trips a fresh one. */
static kh_rc decrypt_check(const struct kh_pkey *key, const char *ct_hex, const char *pt_hex)
{
	struct kh_buf ct, pt;
	kh_rc rc;

	kh_buf_init(&pt, SELFTEST_MAX, KH_BUF_SECURE);
	KH_GUARD_OUT(hex(ct_hex, &ct));
	KH_GUARD_OUT(kh_pkey_decrypt(key, kh_buf_slice(&ct), &pt));
	KH_GUARD_OUT(expect(kh_buf_slice(&pt), pt_hex));
	kh_buf_clear(&ct);
	kh_buf_clear(&pt);
	KH_GUARD_OUT(kh_pkey_encrypt(key, KH_SLICE_LIT("pairwise"), &ct));
	KH_GUARD_OUT(kh_pkey_decrypt(key, kh_buf_slice(&ct), &pt));
	KH_ENSURE_OUT(kh_slice_eq(kh_buf_slice(&pt), KH_SLICE_LIT("pairwise")), KH_ERR_INTERNAL);
	ct.ptr[ct.len - 1] ^= 1;
	kh_buf_clear(&pt);
	KH_ENSURE_OUT(kh_pkey_decrypt(key, kh_buf_slice(&ct), &pt) == KH_ERR_DECRYPT,
	              KH_ERR_INTERNAL);
	rc = KH_OK;
out:
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&pt);
	return rc;
}

static kh_rc kat_rsa(void)
{
	struct kh_pkey *key = NULL;
	kh_rc rc;

	KH_GUARD_OUT(import_hex(rsa2048_key, true, &key));
	/* PKCS#1 v1.5 is deterministic: exact bytes; PSS is randomised: pairwise. */
	KH_GUARD_OUT(
	    sign_check(key, KH_SIG_RSA_PKCS1_SHA256, KH_SLICE_LIT("abc"), rsa2048_pkcs1_sig));
	KH_GUARD_OUT(sign_check(key, KH_SIG_RSA_PSS_SHA256, KH_SLICE_LIT("abc"), NULL));
	KH_GUARD_OUT(decrypt_check(key, rsa2048_oaep_ct, oaep_pt));
	rc = KH_OK;
out:
	kh_pkey_free(&key);
	return rc;
}

static kh_rc kat_ecdsa(void)
{
	struct kh_pkey *pub = NULL, *fresh = NULL;
	kh_rc rc;

	KH_GUARD_OUT(import_hex(p256_pub, false, &pub));
	KH_GUARD_OUT(verify_known(pub, KH_SIG_ECDSA_SHA256, p256_sig));
	KH_GUARD_OUT(kh_pkey_generate(KH_PKEY_EC_P256, &fresh));
	KH_GUARD_OUT(sign_check(fresh, KH_SIG_ECDSA_SHA256, KH_SLICE_LIT("abc"), NULL));
	rc = KH_OK;
out:
	kh_pkey_free(&pub);
	kh_pkey_free(&fresh);
	return rc;
}

static kh_rc kat_ed25519(void)
{
	struct kh_pkey *key = NULL;
	kh_rc rc;

	KH_GUARD_OUT(import_hex(ed25519_key, true, &key));
	rc = sign_check(key, KH_SIG_ED25519, KH_SLICE_EMPTY, ed25519_sig);
out:
	kh_pkey_free(&key);
	return rc;
}

static kh_rc kat_sm2(void)
{
	struct kh_pkey *key = NULL;
	kh_rc rc;

	KH_GUARD_OUT(import_hex(sm2_key, true, &key));
	KH_GUARD_OUT(verify_known(key, KH_SIG_SM2_SM3, sm2_sig));
	KH_GUARD_OUT(sign_check(key, KH_SIG_SM2_SM3, KH_SLICE_LIT("abc"), NULL));
	KH_GUARD_OUT(decrypt_check(key, sm2_ct, oaep_pt));
	rc = KH_OK;
out:
	kh_pkey_free(&key);
	return rc;
}

struct selftest {
	const char *name;
	kh_rc (*run)(void);
};

static const struct selftest selftests[] = {
    {"digests", kat_digests}, {"hmac-hkdf", kat_hmac_hkdf}, {"aead", kat_aeads},
    {"keywrap", kat_keywrap}, {"shamir", kat_shamir},       {"rsa", kat_rsa},
    {"ecdsa", kat_ecdsa},     {"ed25519", kat_ed25519},     {"sm2", kat_sm2},
};

kh_rc kh_crypto_selftest(void)
{
	KH_GUARD(kh_crypto_init());
	for (size_t i = 0; i < sizeof(selftests) / sizeof(selftests[0]); i++) {
		kh_rc rc = selftests[i].run();
		if (rc != KH_OK) {
			KH_LOG_ERROR("crypto self-test failed",
			             KH_LF_STR("test", selftests[i].name), KH_LF_RC(rc));
			/* A wrong answer is a broken implementation, whatever code carried it. */
			return rc == KH_ERR_NOMEM ? rc : KH_ERR_LIBCRYPTO;
		}
	}
	return KH_OK;
}
