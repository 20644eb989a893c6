package auth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/auth/password"
	"github.com/unhidra/unhidra/auth/seal"
	"github.com/unhidra/unhidra/auth/token"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/ratelimit"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/authstore"
	"github.com/unhidra/unhidra/store/ratestore"
)

// clock is a settable clock for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newMFAService is the account service on engine with a key-encryption
// key, the MFA backoff the server uses, and a clock the test moves. It
// registers bob and returns bob's signed-in context.
func newMFAService(t *testing.T, engine string, clk *clock) (*auth.Service, context.Context) {
	t.Helper()
	url := testenv.SQLiteURL(t)
	if engine == "postgres" {
		url = testenv.PostgresURL(t)
	}
	db, err := store.Open(t.Context(), url, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := token.LoadOrCreate(t.TempDir(), time.Now(), token.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := token.NewIssuer(token.Config{Keys: keys, Issuer: "test", Audience: "test", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h, err := password.New(password.Config{})
	if err != nil {
		t.Fatal(err)
	}
	kek, err := seal.NewKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	rates := ratestore.New(db, ratestore.Options{})
	s := auth.New(auth.Config{
		Store: authstore.New(db), Hasher: h, Tokens: iss, SecretKey: kek,
		MFABackoff: rates.Backoff("mfa-account", ratelimit.BackoffOptions{Free: 5, Max: 5 * time.Minute}),
		Now:        clk.now,
	})
	if _, err := s.Register(t.Context(), auth.RegisterInput{Username: "bob", Password: bobPW}); err != nil {
		t.Fatal(err)
	}
	pair, err := s.Login(t.Context(), "bob", bobPW, from("2001:db8::"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(t.Context(), pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	return s, unhidra.NewContextWithPrincipal(t.Context(), p)
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stepStart is a time at the start of a 30-second step, so that ±30 s
// are exactly the neighbouring steps.
var stepStart = time.Unix(1_800_000_000-1_800_000_000%30, 0).UTC()

// enrol turns two-factor on for the context's user with a code of the
// clock's step and returns the secret and recovery codes.
func enrol(t *testing.T, s *auth.Service, ctx context.Context, clk *clock) (string, []string) {
	t.Helper()
	e, err := s.EnrolTOTP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := s.ConfirmTOTP(ctx, totpCode(t, e.Secret, clk.now()))
	if err != nil {
		t.Fatal(err)
	}
	return e.Secret, codes
}

func wantErr(t *testing.T, err error, code string) {
	t.Helper()
	if unhidra.ErrorCode(err) != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

// TestTOTPWindowAndReplay: a code is good for its step and one step either
// side, not two; each step works once, and no step earlier than one used.
func TestTOTPWindowAndReplay(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			clk := &clock{t: stepStart.Add(5 * time.Second)}
			s, ctx := newMFAService(t, engine, clk)
			secret, _ := enrol(t, s, ctx, clk) // spends step N
			now := clk.now()
			login := func(c string) error {
				t.Helper()
				pair, err := s.Login(t.Context(), "bob", bobPW, from("2001:db8::"))
				if err != nil {
					t.Fatal(err)
				}
				if pair.MFA == nil || pair.AccessToken != "" || pair.DeviceToken != "" {
					t.Fatalf("login of a two-factor account = %+v", pair)
				}
				_, err = s.CompleteMFALogin(t.Context(), pair.MFA.Ticket, c, from("2001:db8::"))
				return err
			}
			wantErr(t, login(totpCode(t, secret, now)), unhidra.EUnauthenticated) // the confirming code, replayed
			wantErr(t, login(totpCode(t, secret, now.Add(-30*time.Second))), unhidra.EUnauthenticated)
			wantErr(t, login(totpCode(t, secret, now.Add(60*time.Second))), unhidra.EUnauthenticated)
			if err := login(totpCode(t, secret, now.Add(30*time.Second))); err != nil {
				t.Fatalf("next step: %v", err)
			}
			wantErr(t, login(totpCode(t, secret, now.Add(30*time.Second))), unhidra.EUnauthenticated)
			clk.add(60 * time.Second) // now N+2: N+1 is the previous step, already spent
			wantErr(t, login(totpCode(t, secret, now.Add(30*time.Second))), unhidra.EUnauthenticated)
			if err := login(totpCode(t, secret, now.Add(90*time.Second))); err != nil {
				t.Fatalf("step N+3 at N+2: %v", err)
			}
		})
	}
}

// TestMFATicketExpires: a ticket is refused after MFATicketTTL, even with
// a right code, and the code is not spent by the refusal.
func TestMFATicketExpires(t *testing.T) {
	clk := &clock{t: stepStart.Add(5 * time.Second)}
	s, ctx := newMFAService(t, "sqlite", clk)
	_, recovery := enrol(t, s, ctx, clk)
	pair, err := s.Login(t.Context(), "bob", bobPW, from("2001:db8::"))
	if err != nil || pair.MFA == nil {
		t.Fatalf("login: %+v %v", pair, err)
	}
	clk.add(auth.MFATicketTTL)
	_, err = s.CompleteMFALogin(t.Context(), pair.MFA.Ticket, recovery[0], from("2001:db8::"))
	wantErr(t, err, unhidra.EUnauthenticated)
	pair, err = s.Login(t.Context(), "bob", bobPW, from("2001:db8::"))
	if err != nil {
		t.Fatal(err)
	}
	done, err := s.CompleteMFALogin(t.Context(), pair.MFA.Ticket, recovery[0], from("2001:db8::"))
	if err != nil || done.AccessToken == "" || done.RefreshToken == "" {
		t.Fatalf("complete: %+v %v", done, err)
	}
}

// TestMFABackoff: wrong codes for an account beyond the free ones are
// refused with rate_limited, whichever ticket or operation they come with.
func TestMFABackoff(t *testing.T) {
	clk := &clock{t: stepStart.Add(5 * time.Second)}
	s, ctx := newMFAService(t, "sqlite", clk)
	_, recovery := enrol(t, s, ctx, clk)
	limited := false
	for i := range 12 {
		_, err := s.RegenerateRecoveryCodes(ctx, "000000")
		if unhidra.ErrorCode(err) == unhidra.ERateLimited {
			if i < 5 {
				t.Fatalf("rate limited after %d wrong codes", i)
			}
			limited = true
			if unhidra.RetryAfter(err) <= 0 {
				t.Fatalf("no Retry-After: %v", err)
			}
			break
		}
		wantErr(t, err, unhidra.EUnauthenticated)
	}
	if !limited {
		t.Fatal("never rate limited")
	}
	// Even a right code waits its turn.
	_, err := s.RegenerateRecoveryCodes(ctx, recovery[0])
	wantErr(t, err, unhidra.ERateLimited)
}

// TestAccessTokenExpiry: a token stops working at its expiry; its
// principal carries the scopes.
func TestAccessTokenExpiry(t *testing.T) {
	clk := &clock{t: stepStart}
	s, ctx := newMFAService(t, "sqlite", clk)
	tok, secret, err := s.CreateAccessToken(ctx, auth.CreateAccessTokenInput{Name: "ci", Scopes: []string{"read"}, ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(t.Context(), secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.TokenID != tok.ID || !p.Allows(unhidra.ScopeRead) || p.Allows(unhidra.ScopeWrite) || p.Allows(unhidra.ScopeAdmin) || p.SessionID != "pat:"+tok.ID {
		t.Fatalf("principal = %+v", p)
	}
	// A token cannot make another.
	_, _, err = s.CreateAccessToken(unhidra.NewContextWithPrincipal(t.Context(), p), auth.CreateAccessTokenInput{Name: "x", Scopes: []string{"read"}, ExpiresIn: time.Hour})
	wantErr(t, err, unhidra.EPermission)
	clk.add(time.Hour)
	_, err = s.Authenticate(t.Context(), secret)
	wantErr(t, err, unhidra.EUnauthenticated)
}

// TestTOTPNeedsKEK: without a key-encryption key, enrolment is unavailable
// rather than storing a secret in the clear.
func TestTOTPNeedsKEK(t *testing.T) {
	s := newService(t, "sqlite", time.Now, &waits{})
	pair, err := s.Login(t.Context(), "bob", bobPW, from("2001:db8::"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(t.Context(), pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.EnrolTOTP(unhidra.NewContextWithPrincipal(t.Context(), p))
	wantErr(t, err, unhidra.EUnavailable)
}

// TestAccessTokenRole: an admin's token acts as an admin only with the
// admin scope; a member cannot ask for that scope.
func TestAccessTokenRole(t *testing.T) {
	clk := &clock{t: stepStart}
	s, bobCtx := newMFAService(t, "sqlite", clk)
	_, _, err := s.CreateAccessToken(bobCtx, auth.CreateAccessTokenInput{Name: "x", Scopes: []string{"admin"}, ExpiresIn: time.Hour})
	wantErr(t, err, unhidra.EPermission)
	setup, _, err := s.Bootstrap(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(t.Context(), auth.RegisterInput{Username: "root", Password: carolPW, SetupToken: setup}); err != nil {
		t.Fatal(err)
	}
	pair, err := s.Login(t.Context(), "root", carolPW, from("2001:db8::"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(t.Context(), pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	ctx := unhidra.NewContextWithPrincipal(t.Context(), p)
	for _, c := range []struct {
		scopes []string
		role   string
	}{{[]string{"read", "write"}, unhidra.RoleMember}, {[]string{"admin"}, unhidra.RoleAdmin}} {
		_, secret, err := s.CreateAccessToken(ctx, auth.CreateAccessTokenInput{Name: "t", Scopes: c.scopes, ExpiresIn: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		tp, err := s.Authenticate(t.Context(), secret)
		if err != nil || tp.Role != c.role {
			t.Fatalf("scopes %v: role %q (%v), want %q", c.scopes, tp.Role, err, c.role)
		}
		_, _, err = s.AdminListUsers(unhidra.NewContextWithPrincipal(t.Context(), tp), "", 10)
		if (err == nil) != (c.role == unhidra.RoleAdmin) {
			t.Fatalf("scopes %v: admin list: %v", c.scopes, err)
		}
	}
}
