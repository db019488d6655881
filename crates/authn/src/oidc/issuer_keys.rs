//! The test issuer's fixed RSA keys (2048-bit, PKCS#1 PEM, made once with `openssl genrsa`)
//! and their public moduli as JWK `n` (base64url). ring cannot generate RSA keys, and RS256
//! is what kube-apiserver accepts by default, so the test issuer embeds these. They sign test
//! tokens only: anyone can read them here, so nothing must ever trust them outside a test.

/// One embedded key: its private half and the JWK `n` of its public half (`e` is 65537).
pub(super) struct FixedRsaKey {
    pub pem: &'static str,
    pub n: &'static str,
}

pub(super) const RSA_KEYS: [FixedRsaKey; 2] = [
    FixedRsaKey {
        pem: "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIEpAIBAAKCAQEAnNGukGtZqtqEhjIhg18QhGgOJbwSvst/5X96+yXPbRHWR/y7\n\
OcKjX1jFU0oFc9iBXKjm6TrDkSL5jpDePBLzj4mzUwuEpZ1AOe7UF6OLdBFkoJo6\n\
hP5Pjl28DTGjTcMBpJOJ8ITScNEud1Ajxt4OuXc0vMBTjG7ob059/hrLBitU5psx\n\
C7BGy/CuQVl7O6mQ7/WY8p2F23tHabWx6+o0fgDzNaxi9NFRDdOBIXTpIT3WB4y7\n\
LkLGx6GI4Tv9/EWW+B+V8E1cTYZ0aFfr/98x5VZ9mgsjsUdTnywkWGw/75ZdBixa\n\
U9NdUkbIVwUETdd8o8pInaQ9taSCoJBpmID4LwIDAQABAoIBAEVQyYA8cx36CKno\n\
brfKxVpBRD+Zqg97k8S1XH62b8EeKUEYjQky51O1wULXbSGPiV6Tqb1dpCP6+aPy\n\
lMio989yZjlG1hL+Nu1ki4sHVxSuu3PhuAwg/LlI5V5Pmoc8svUz4bzWeM41J/zF\n\
B4tXi9qevkjQGh3wx/yrDTXMUgEfZHx21UEHQAmZhM+gYf5eou7s3PRDODJ44IYp\n\
f4bb2/DTUiLt1nEuKib5jkdD2tzzx1xJrIvwheCuI/ZcvWQOcPhlDin6Nav9w8od\n\
JhwuEmRDl/yJmPeJRpf+2TWr4YUKcl34sTF6FK73Wr3p4Wzaxaf97B1E2AhDlwhh\n\
tYikiUECgYEA2CSo5qzVvC6cIU3cr5B5Zu2xTVCPvGWXFVFBAK9suED4nyjS3kPw\n\
oWUliFlIXQvTZP+XbAufoC7GIbFUdXGCbcaf9TZ1SPIAo9xpUsCde0h2EbeGYtbS\n\
jPaTFEPu/Ti3U822+E1Rn5TmI5zcF6HthS2S2KB4F5+Q04jVvwyNK+MCgYEAubyL\n\
RG7cy134cbjVFX06eX7pD1EsShT0N8KJ/jlZeZTGsZmcbCrKz5G9jL8/Q3gNb0NW\n\
BH+hypuCEdBiX+IcsRYn1TFkamdMjPWwYbyjpMataPwrDwk9JxST0gmOhKsHjTYZ\n\
Mv3aRa8hosWSe8biPQE/0HboOy4VGqk4dSX8jEUCgYEAlTMhIDKYS5FFFzw/JTWu\n\
h9118W+1+I+L7hwrqcRuYPYAaSVuAh2V4mMGuIshB5GdN++y39NaOeFvxVw6d+OF\n\
7C8axdL0vQjIZlREo+nwC2Tmk65C5sFxj/q5ZljKhSN8cS3kqpv8xxKqllS2HN4b\n\
Lj5aSoziuTPdbhfbrEiGvo8CgYA0RYe8PqcM5Olit+3gGlo2jyzwDpw0TSld9/X2\n\
AhXYTbKNkPmgx3pEaHO8BKa9SjAdvAmdQn46EwHMGaVV7sC8ZcvYCAqGl4PHt+1n\n\
1DsJyJBNF4rWtHbtZLElT2M4mxmI+EynOSIQsnT45jmPdC1/lbZr6Mr6vMFbu3wU\n\
HBizMQKBgQCO97s7OmtkJN/oMgyVYautIrpPyzgwuWH52lTUSVYwogRDaTSKB/dJ\n\
7dyxKnrLCnOBeZyBCB012e7ZIFqAIJWxs4hBsj3EWMeIz0PYLiWI1f2dQJ2VXTgr\n\
mLUo4MPhSbm25coUbgwZt8t/mvasZLUNPIhSgTKkSZFkD44BTtP33w==\n\
-----END RSA PRIVATE KEY-----\n",
        n: "nNGukGtZqtqEhjIhg18QhGgOJbwSvst_5X96-yXPbRHWR_y7OcKjX1jFU0oFc9iBXKjm6TrDkSL5jpDePBLzj4mzUwuEpZ1AOe7UF6OLdBFkoJo6hP5Pjl28DTGjTcMBpJOJ8ITScNEud1Ajxt4OuXc0vMBTjG7ob059_hrLBitU5psxC7BGy_CuQVl7O6mQ7_WY8p2F23tHabWx6-o0fgDzNaxi9NFRDdOBIXTpIT3WB4y7LkLGx6GI4Tv9_EWW-B-V8E1cTYZ0aFfr_98x5VZ9mgsjsUdTnywkWGw_75ZdBixaU9NdUkbIVwUETdd8o8pInaQ9taSCoJBpmID4Lw",
    },
    FixedRsaKey {
        pem: "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIEogIBAAKCAQEAsbPLsmaWwyI2ogEWvZQ5Zp8SH0upt6WqmxPbXxKYWXQFuhzh\n\
AlbTz02C+8Lnk9Kjo7/PKtU4Z3FIqjomFljrkKI3wCnVxWHDtxQjzJJCevvw7w4l\n\
Ds1Y0oYVr1trI/3zhm7UesPTe15HF0v3Xa2fQ7bwJBleSrS+bhZxJw55DTkZiGze\n\
5sTXQrlQolOBn9Ba7Oq9LGIqH/gTgNKwBLNciZwS1a8y4LEmGE5NPzKmIrlAfIn8\n\
SLqR/iF1T3yDdgskA/VKfg1+94oX2nHGcu0paqu9adFTKMjS3r7heIc0qhbaJ/ej\n\
CPg6R6W1hh5LfI91KFgFFowpRKkccFgJA9B2JQIDAQABAoIBAA7Ci9tMGR6pI1eO\n\
dpiVjLUA5mzyCG1IFeUen5yEe2IGuIkOaAQdOSehXQ1TUY/eMZhi0K7SmgZBixMU\n\
lGBLz3kqeC3+a5Ki/bIhup190obLkWYRyzMxDD0kRP3VPo91Qvp6Dy0JQfIf0RDW\n\
zvuZdb6WndipwMK8w4p6U7i2Q4i8/1NtpN49qza4+RLGivnq0X5srsY5qKhtVPAH\n\
dY02cidikw/ImaMPuTriJYIozcUEh3uwYwe7cVQiweR6XMrTCdFIz+w0g4fGqkc0\n\
NHfgGwynWR8YZyHOE0YCfdkNim0q+q2tzBNd6fg3oWUU8unUlF+B0h7+Il6wlg7r\n\
S/cLSEECgYEA6h9REhuNe4zFMj88caGYU2NBEQNftAq9DG2YqTRQ6BUzMcsHpIoX\n\
vNKBwF0o23v7HPFtcqglrVEcj2OG4onNoek+908LGMdUgVUIOYeDP0GhyIFq3WqH\n\
nEbKS8At6EkyWRpZIZ/7Lr6KHc1BAWsPE7QL6Q2qghBqFX/PdfsZ6cUCgYEAwk7M\n\
KqsSCw/XBIJ555jt0pJ46wSo4Jk9gMSfjrfuCr4RttEPeCgeOs2rnKWLeelkRGf2\n\
t2FmZxUW3JlXgX+61SpFxp1LWljVM0wJys4ul3jN3V9npgIbchSppsoVdesdLkaG\n\
Xi2Rf5iNTW42wussbNTEbRLc7uhMENzDyeyCAOECgYB2EgMVqbWJeG2+sGtwNvmW\n\
HDklNlleeAftK5xQwOSIlqBx3R1mmonsHRF4jMLdJcJ3Tz5OE4SkyoInwh61Qp/k\n\
pretizxia6wvaU2zjabgEN5hOvtE3MO1SXIeD7ZXLgrpKsOGlKLdaRRIgUnmSDKb\n\
UjKrfsvduh915jYfHtprrQKBgHAOh1n4DFDK0sKsCGeS31x30jofFtFoLnrraeUh\n\
l6skUAzxZg1yfXSGFfkh01z8RzHYDwVUq3y5QdT4rell4zZ5yYGwRruUzWdm66LE\n\
40PBjF+lXJ31SySwW+JvWo8Fh2+fhnAbsXQ3Yw4LiJNCkv00ew84OKei2fNDjboO\n\
pi6hAoGARi7YVKc1+IdNDeEUZ4t2Z5goAI4pLHYTSp6E6XK+G04Se/l2ElDcRU6y\n\
Myy5lkzaBMO7iOlh92K0g//p7DqDEKgtmDmnqpJOQc6vngIit51Szbv4VuqiJGXT\n\
rRdbpQD/9pwfT0LXu1puFY1pc1sEugqkdOXKJtRBQae2aQxvPaQ=\n\
-----END RSA PRIVATE KEY-----\n",
        n: "sbPLsmaWwyI2ogEWvZQ5Zp8SH0upt6WqmxPbXxKYWXQFuhzhAlbTz02C-8Lnk9Kjo7_PKtU4Z3FIqjomFljrkKI3wCnVxWHDtxQjzJJCevvw7w4lDs1Y0oYVr1trI_3zhm7UesPTe15HF0v3Xa2fQ7bwJBleSrS-bhZxJw55DTkZiGze5sTXQrlQolOBn9Ba7Oq9LGIqH_gTgNKwBLNciZwS1a8y4LEmGE5NPzKmIrlAfIn8SLqR_iF1T3yDdgskA_VKfg1-94oX2nHGcu0paqu9adFTKMjS3r7heIc0qhbaJ_ejCPg6R6W1hh5LfI91KFgFFowpRKkccFgJA9B2JQ",
    },
];
