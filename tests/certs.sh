#!/bin/sh
# tests/certs.sh - makes the certificates the TLS tests use, into DIR.
#
#   tests/certs.sh DIR
#
# All keys ECDSA P-256 (fast), made fresh by each run of tests/test_tls.c
# into a temporary directory, so that nothing secret is committed and
# nothing expires:
#   ca.pem ca.key               a test CA
#   server.pem server.key       CN=localhost, SAN localhost and 127.0.0.1
#   client.pem client.key       CN=eddy client, for client authentication
#   other.pem other.key         other.example: the wrong host for localhost
#   expired.pem expired.key     localhost, valid only in January 2020
#   rogue.pem rogue.key         localhost, self-signed: an unknown CA
# bench/ and the examples' usage lines can use it too.
set -eu
D=$1
mkdir -p "$D"
cd "$D"
: >index.txt
echo 01 >serial

key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"; }

# csr NAME SUBJECT SAN
csr() {
    key "$1"
    openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$3" >"$1.ext"
}

sign() {
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -days 30 -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}

key ca
openssl req -x509 -new -key ca.key -subj "/CN=eddy test CA" -days 30 \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign -out ca.pem

csr server "/CN=localhost" "DNS:localhost,IP:127.0.0.1"
sign server
csr client "/O=eddy/CN=eddy client" "DNS:client.example"
echo "extendedKeyUsage=clientAuth" >>client.ext
sign client
csr other "/CN=other.example" "DNS:other.example"
sign other

# An expired one needs dates in the past, which only `openssl ca` sets.
csr expired "/CN=localhost" "DNS:localhost,IP:127.0.0.1"
cat >ca.cnf <<EOF
[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
[any]
commonName = supplied
EOF
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -notext \
    -extfile expired.ext -in expired.csr -out expired.pem \
    -startdate 20200101000000Z -enddate 20200131000000Z 2>/dev/null

key rogue
openssl req -x509 -new -key rogue.key -subj "/CN=localhost" -days 30 \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -out rogue.pem
