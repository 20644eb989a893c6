package keys

import (
	"context"

	"github.com/unhidra/unhidra"
)

// UserKeys returns what a client needs to start sessions with every client
// install of userID: the user's master key and signed client list, and a
// bundle per live client, each carrying a one-time prekey (X25519, and
// post-quantum if the client uploaded any) taken for this fetch alone, or
// the client's last-resort X25519 prekey once they have run out, and the
// client's post-quantum prekey. Every
// authenticated user may fetch anyone's keys; a personal access token
// needs the write scope, since a fetch uses prekeys up. Fetches are
// limited per requester and per (requester, target) (rate_limited).
func (s *Service) UserKeys(ctx context.Context, userID string) (*unhidra.UserKeys, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if unhidra.CheckID("user_id", userID) != nil {
		return nil, unhidra.Errorf(unhidra.ENotFound, "no such user")
	}
	if _, err := s.cfg.Store.UserByID(ctx, userID); err != nil {
		if unhidra.ErrorCode(err) == unhidra.ENotFound {
			return nil, unhidra.Errorf(unhidra.ENotFound, "no such user")
		}
		return nil, err
	}
	out := &unhidra.UserKeys{UserID: userID}
	err = s.cfg.Store.Tx(ctx, func(tx Tx) error {
		master, list, err := tx.UserKeys(ctx, userID)
		if err != nil {
			return err
		}
		out.MasterKey, out.ClientList = master, list
		clients, err := tx.Clients(ctx, userID)
		if err != nil {
			return err
		}
		out.Clients = make([]*unhidra.ClientBundle, 0, len(clients))
		for _, c := range clients {
			b := &unhidra.ClientBundle{UserID: c.UserID, ClientID: c.ClientID, IdentityKey: c.IdentityKey, SigningKey: c.SigningKey,
				IdentitySig: c.IdentitySig, SignedPreKey: c.SignedPreKey}
			if b.OneTimePreKey, err = tx.PopPreKey(ctx, c.ClientID); err != nil {
				return err
			}
			if b.OneTimePreKey == nil {
				b.LastResortPreKey = c.LastResortPreKey
			}
			if b.PQOneTimePreKey, err = tx.PopPQPreKey(ctx, c.ClientID); err != nil {
				return err
			}
			b.PQPreKey = c.PQPreKey
			out.Clients = append(out.Clients, b)
		}
		// The limits are decided last, in the fetch's transaction: a
		// refusal rolls the pops back (a refused fetch takes nothing and
		// counts against neither limit), an admitted fetch costs no commit
		// of its own, and on PostgreSQL the limits' rows are locked only
		// until the commit that follows.
		if err := s.limitedIn(ctx, tx, s.cfg.FetchLimit, "key fetches for this user", p.UserID+"/"+userID); err != nil {
			return err
		}
		return s.limitedIn(ctx, tx, s.cfg.FetchUserLimit, "key fetches", p.UserID)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
