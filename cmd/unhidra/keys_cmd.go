// End-to-end encryption in the CLI: the install's keys live under the
// user's config directory (0700, files 0600), one state directory per
// server and user; `unhidra keys` shows and verifies them.

package main

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client/e2eeclient"
	"github.com/unhidra/unhidra/e2ee"
)

// e2ee opens (and on first use registers) the end-to-end install of the
// signed-in user on this server.
func (x *cli) e2ee() (*e2eeclient.Client, error) {
	if x.secure != nil {
		return x.secure, nil
	}
	if x.me == nil || x.me.UserID == "" {
		return nil, errors.New("end-to-end encryption needs a signed-in user (unhidra login)")
	}
	u, err := url.Parse(x.server)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(filepath.Dir(x.file.path), "e2ee", u.Host, x.me.UserID)
	e, err := e2eeclient.Open(x.ctx, x.c, dir)
	if err != nil {
		return nil, fmt.Errorf("open the end-to-end keys: %w", err)
	}
	if _, err := e.Sync(x.ctx); err != nil {
		return nil, err
	}
	x.secure = e
	return e, nil
}

// decrypt returns the text of an encrypted message, or a state to show.
func (x *cli) decrypt(m *unhidra.Message) string {
	e, err := x.e2ee()
	if err != nil {
		return "(encrypted: " + err.Error() + ")"
	}
	d, err := e.Decrypt(x.ctx, m)
	if errors.Is(err, e2eeclient.ErrKeyPending) {
		if _, serr := e.Sync(x.ctx); serr == nil {
			d, err = e.Decrypt(x.ctx, m)
		}
	}
	switch {
	case errors.Is(err, e2eeclient.ErrKeyPending):
		return "(encrypted: the key was asked for and is on its way)"
	case err != nil:
		return "(encrypted: cannot decrypt: " + err.Error() + ")"
	}
	return d.Body
}

func (x *cli) keysCmd(args []string) error {
	fs := x.flags("keys")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := x.connect(true); err != nil {
		return err
	}
	e, err := x.e2ee()
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		id := e.Identity()
		fmt.Fprintf(x.stdout, "client %s\nfingerprint %s\n", e.ClientID(), e2ee.ClientFingerprint(&id))
		return nil
	case pos[0] == "rotate" && len(pos) == 1:
		if err := e.RotatePrekeys(x.ctx); err != nil {
			return x.friendly(err)
		}
		fmt.Fprintln(x.stdout, "signed and post-quantum prekeys replaced")
		return nil
	}
	return usagef("usage: unhidra keys [rotate]")
}
