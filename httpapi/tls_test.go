package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testserver"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "unhidra test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLS serves the API over HTTPS: TLS 1.2 at least, HSTS, and the refresh
// cookie marked Secure.
func TestTLS(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	var pool *x509.CertPool
	cfg.TLSCert, cfg.TLSKey, pool = selfSigned(t, t.TempDir())
	cfg.PublicURL = "https://127.0.0.1"
	n := testserver.StartWithClient(t, cfg, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}})
	if !strings.HasPrefix(n.URL, "https://") {
		t.Fatalf("URL = %s", n.URL)
	}
	hc := n.Client
	resp, err := hc.Post(n.URL+"/api/v1/auth/register", "application/json", strings.NewReader(`{"username":"bob","password":"`+bobPW+`"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("register over TLS: %v %v", err, resp)
	}
	resp.Body.Close()
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Fatalf("HSTS = %q", hsts)
	}
	resp, err = hc.Post(n.URL+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"bob","password":"`+bobPW+`","cookie":true}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login over TLS: %v %v", err, resp)
	}
	resp.Body.Close()
	// The refresh cookie and the device cookie.
	if c := resp.Cookies(); len(c) != 2 || !c[0].Secure || !c[0].HttpOnly || !c[1].Secure || !c[1].HttpOnly {
		t.Fatalf("cookies over TLS = %+v", c)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(n.URL + "/healthz"); err == nil {
		t.Fatal("TLS 1.1 was accepted")
	}
}
