// Command oidctest runs the in-test OpenID Connect provider of package
// oidctest as a process, for tests that are not Go (the browser tests).
// It prints one JSON line, {"issuer": "http://127.0.0.1:PORT"}, once it
// serves, and exits when its standard input closes (its parent died) or
// on SIGTERM. Loopback only; never run it anywhere else.
//
// Control endpoints on the same server:
//
//	POST /oidctest/redirect  body: a redirect URI to allow for the client
//	POST /oidctest/user      body: JSON {"subject", "preferred_username",
//	                         "email", "name", "groups"}: who signs in next
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/unhidra/unhidra/internal/oidctest"
)

func main() {
	client := flag.String("client", "unhidra", "client `ID` to register")
	secret := flag.String("secret", "unhidra-secret", "the client's `SECRET`")
	flag.Parse()
	p, err := oidctest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "oidctest:", err)
		os.Exit(1)
	}
	defer p.Close()
	p.AddClient(*client, *secret)
	p.Handle("POST /oidctest/redirect", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 4096))
		if err != nil || len(b) == 0 {
			http.Error(w, "want a redirect URI", http.StatusBadRequest)
			return
		}
		p.AddRedirectURI(*client, string(b))
		w.WriteHeader(http.StatusNoContent)
	}))
	p.Handle("POST /oidctest/user", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u struct {
			Subject           string   `json:"subject"`
			PreferredUsername string   `json:"preferred_username"`
			Email             string   `json:"email"`
			Name              string   `json:"name"`
			Groups            []string `json:"groups"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&u); err != nil || u.Subject == "" {
			http.Error(w, "want JSON with a subject", http.StatusBadRequest)
			return
		}
		p.SignInAs(oidctest.User{Subject: u.Subject, PreferredUsername: u.PreferredUsername, Email: u.Email, Name: u.Name, Groups: u.Groups})
		w.WriteHeader(http.StatusNoContent)
	}))
	json.NewEncoder(os.Stdout).Encode(map[string]string{"issuer": p.Issuer})

	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	select {
	case <-done:
	case <-sig:
	}
}
