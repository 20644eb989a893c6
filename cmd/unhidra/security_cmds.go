// The security verbs: personal access tokens (tokens create|ls|rm) and
// two-factor authentication (2fa status|enable|disable|recovery-codes),
// and the second step of a login.

package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/unhidra/unhidra/client"
)

// code reads a two-factor code from UNHIDRA_TOTP_CODE or standard input.
func (x *cli) code(label string) (string, error) {
	if c, ok := x.lookupEnv("UNHIDRA_TOTP_CODE"); ok {
		return c, nil
	}
	c, err := x.prompt(label)
	return strings.TrimSpace(c), err
}

// finishMFA completes a login that answered mfa_required.
func (x *cli) finishMFA(m *client.MFARequiredError) error {
	c, err := x.code("two-factor code (or a recovery code): ")
	if err != nil {
		return err
	}
	return x.c.LoginMFA(x.ctx, m.Ticket, c)
}

func (x *cli) tokens(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("want a tokens command: create, ls or rm")
	}
	sub, rest := args[0], args[1:]
	fs := x.flags("tokens " + sub)
	var scopes string
	var expires time.Duration
	if sub == "create" {
		fs.StringVar(&scopes, "scopes", "read", "comma-separated scopes: read, write, admin")
		fs.DurationVar(&expires, "expires", 30*24*time.Hour, "lifetime (at most 8784h, 366 days)")
	}
	pos, err := parse(fs, rest)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if len(pos) != 1 {
			return usagef("tokens create takes one NAME")
		}
	case "ls":
		if len(pos) != 0 {
			return usagef("tokens ls takes no arguments")
		}
	case "rm":
		if len(pos) != 1 {
			return usagef("tokens rm takes one token ID")
		}
	default:
		return usagef("unknown tokens command %q: want create, ls or rm", sub)
	}
	if err := x.connect(true); err != nil {
		return err
	}
	switch sub {
	case "create":
		t, secret, err := x.c.CreateToken(x.ctx, client.CreateTokenInput{Name: pos[0], Scopes: strings.Split(scopes, ","), ExpiresIn: expires})
		if err != nil {
			return x.friendly(err)
		}
		if x.json {
			return x.printJSON(map[string]any{"token": t, "secret": secret})
		}
		fmt.Fprintf(x.stderr, "token %s (%s), scopes %s, expires %s; it is shown only now:\n", t.Name, t.ID, strings.Join(t.Scopes, ","), t.ExpiresAt.Format(time.RFC3339))
		fmt.Fprintln(x.stdout, secret)
		return nil
	case "ls":
		list, err := x.c.AccessTokens(x.ctx)
		if err != nil {
			return x.friendly(err)
		}
		if x.json {
			if list == nil {
				list = []*client.AccessToken{}
			}
			return x.printJSON(map[string]any{"tokens": list})
		}
		if len(list) == 0 {
			fmt.Fprintln(x.stdout, "no access tokens: unhidra tokens create NAME --scopes read")
			return nil
		}
		tw := tabwriter.NewWriter(x.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tEXPIRES\tLAST USED")
		for _, t := range list {
			used := "never"
			if t.LastUsedAt != nil {
				used = t.LastUsedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, oneLine(t.Name, 40), strings.Join(t.Scopes, ","), t.ExpiresAt.Format(time.RFC3339), used)
		}
		return tw.Flush()
	default: // rm
		if err := x.c.RevokeToken(x.ctx, pos[0]); err != nil {
			return x.friendly(err)
		}
		if !x.json {
			fmt.Fprintf(x.stdout, "revoked token %s\n", pos[0])
		}
		return nil
	}
}

func (x *cli) passkeys(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("want a passkeys command: ls, rename or rm")
	}
	sub := args[0]
	pos, err := parse(x.flags("passkeys "+sub), args[1:])
	if err != nil {
		return err
	}
	want := map[string]int{"ls": 0, "rename": 2, "rm": 1}
	n, ok := want[sub]
	if !ok {
		return usagef("unknown passkeys command %q: want ls, rename or rm", sub)
	}
	if len(pos) != n {
		return usagef("passkeys %s takes %d argument(s)", sub, n)
	}
	if err := x.connect(true); err != nil {
		return err
	}
	switch sub {
	case "ls":
		list, err := x.c.Passkeys(x.ctx)
		if err != nil {
			return x.friendly(err)
		}
		if x.json {
			if list == nil {
				list = []*client.Passkey{}
			}
			return x.printJSON(map[string]any{"passkeys": list})
		}
		if len(list) == 0 {
			fmt.Fprintln(x.stdout, "no passkeys: add one in the web client, Settings → Passkeys")
			return nil
		}
		tw := tabwriter.NewWriter(x.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tADDED\tLAST USED")
		for _, k := range list {
			used := "never"
			if k.LastUsedAt != nil {
				used = k.LastUsedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, oneLine(k.Name, 40), k.CreatedAt.Format(time.RFC3339), used)
		}
		return tw.Flush()
	case "rename":
		k, err := x.c.RenamePasskey(x.ctx, pos[0], pos[1])
		if err != nil {
			return x.friendly(err)
		}
		if x.json {
			return x.printJSON(map[string]any{"passkey": k})
		}
		fmt.Fprintf(x.stdout, "renamed passkey %s to %s\n", k.ID, oneLine(k.Name, 64))
		return nil
	default: // rm
		if err := x.c.RemovePasskey(x.ctx, pos[0]); err != nil {
			return x.friendly(err)
		}
		if !x.json {
			fmt.Fprintf(x.stdout, "removed passkey %s\n", pos[0])
		}
		return nil
	}
}

func (x *cli) twoFactor(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("want a 2fa command: status, enable, disable or recovery-codes")
	}
	sub := args[0]
	fs := x.flags("2fa " + sub)
	if pos, err := parse(fs, args[1:]); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("2fa %s takes no arguments", sub)
	}
	switch sub {
	case "status", "enable", "disable", "recovery-codes":
	default:
		return usagef("unknown 2fa command %q: want status, enable, disable or recovery-codes", sub)
	}
	if err := x.connect(true); err != nil {
		return err
	}
	printCodes := func(codes []string) error {
		if x.json {
			return x.printJSON(map[string]any{"recovery_codes": codes})
		}
		fmt.Fprintln(x.stderr, "recovery codes, each usable once in place of a code; keep them safe, they are shown only now:")
		for _, c := range codes {
			fmt.Fprintln(x.stdout, c)
		}
		return nil
	}
	switch sub {
	case "status":
		st, err := x.c.TOTP(x.ctx)
		if err != nil {
			return x.friendly(err)
		}
		if x.json {
			return x.printJSON(map[string]any{"totp": st})
		}
		switch {
		case st.Enabled:
			fmt.Fprintf(x.stdout, "two-factor is on; %d recovery codes left\n", st.RecoveryCodesLeft)
		case st.Pending:
			fmt.Fprintln(x.stdout, "two-factor enrolment is pending: run unhidra 2fa enable again")
		default:
			fmt.Fprintln(x.stdout, "two-factor is off: unhidra 2fa enable")
		}
		return nil
	case "enable":
		e, err := x.c.EnrolTOTP(x.ctx)
		if err != nil {
			return x.friendly(err)
		}
		fmt.Fprintf(x.stderr, "add this account to your authenticator app:\n  %s\nor type the secret: %s\n", e.OTPAuthURI, e.Secret)
		c, err := x.code("first code from the app: ")
		if err != nil {
			return err
		}
		codes, err := x.c.ConfirmTOTP(x.ctx, c)
		if err != nil {
			return x.friendly(err)
		}
		return printCodes(codes)
	case "recovery-codes":
		c, err := x.code("current code (or a recovery code): ")
		if err != nil {
			return err
		}
		codes, err := x.c.RegenerateRecoveryCodes(x.ctx, c)
		if err != nil {
			return x.friendly(err)
		}
		return printCodes(codes)
	default: // disable
		pw, err := x.password("password: ")
		if err != nil {
			return err
		}
		c, err := x.code("current code (or a recovery code): ")
		if err != nil {
			return err
		}
		if err := x.c.DisableTOTP(x.ctx, pw, c); err != nil {
			return x.friendly(err)
		}
		if !x.json {
			fmt.Fprintln(x.stdout, "two-factor is off")
		}
		return nil
	}
}
