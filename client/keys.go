package client

import (
	"context"
	"net/http"
	"strconv"

	"github.com/unhidra/unhidra"
)

// End-to-end key directory and to-device inbox (API.md "End-to-end keys
// and to-device messages"). Keys are bytes here and standard base64 on the
// wire; the server checks only their sizes, so callers verify every
// signature they receive.

// ClientRegistration is one client install's public keys, registered with
// RegisterClient. Its optional prekeys are removed when left out.
type ClientRegistration struct {
	IdentityKey      []byte                `json:"identity_key"`
	SigningKey       []byte                `json:"signing_key"`
	IdentitySig      []byte                `json:"identity_sig"`
	SignedPreKey     *unhidra.SignedPreKey `json:"signed_prekey"`
	PQPreKey         *unhidra.SignedPreKey `json:"pq_prekey,omitempty"`
	LastResortPreKey *unhidra.SignedPreKey `json:"last_resort_prekey,omitempty"`
}

// RegisterClient registers the client install clientID of the signed-in
// user, or replaces its keys; created reports a new registration. The
// session is then bound to the client: the client refreshes its tokens at
// once, so that its access token (and the sockets it opens from now on)
// carry the client_id claim. A client signed in with a personal access
// token has no session to bind and does not refresh.
func (c *Client) RegisterClient(ctx context.Context, clientID string, reg ClientRegistration) (info *unhidra.ClientInfo, created bool, err error) {
	if err := need("register client", clientID); err != nil {
		return nil, false, err
	}
	var out struct {
		Client *unhidra.ClientInfo `json:"client"`
	}
	status, err := c.doStatus(ctx, "PUT", "/api/v1/keys/clients/"+esc(clientID), reg, &out)
	if err != nil {
		return nil, false, err
	}
	if c.Tokens().RefreshToken != "" {
		if err := c.Refresh(ctx); err != nil {
			return out.Client, status == http.StatusCreated, err
		}
	}
	return out.Client, status == http.StatusCreated, nil
}

// KeyClients lists the signed-in user's client installs.
func (c *Client) KeyClients(ctx context.Context) ([]*unhidra.ClientInfo, error) {
	var out struct {
		Clients []*unhidra.ClientInfo `json:"clients"`
	}
	err := c.do(ctx, "GET", "/api/v1/keys/clients", nil, &out)
	return out.Clients, err
}

// KeyClient returns one of the signed-in user's client installs: its keys,
// prekey counts and retired prekeys (whose private halves it keeps until
// their ExpiresAt).
func (c *Client) KeyClient(ctx context.Context, clientID string) (*unhidra.ClientInfo, error) {
	if err := need("key client", clientID); err != nil {
		return nil, err
	}
	var out struct {
		Client *unhidra.ClientInfo `json:"client"`
	}
	err := c.do(ctx, "GET", "/api/v1/keys/clients/"+esc(clientID), nil, &out)
	return out.Client, err
}

// RemoveClient removes one of the signed-in user's client installs.
func (c *Client) RemoveClient(ctx context.Context, clientID string) error {
	if err := need("remove client", clientID); err != nil {
		return err
	}
	return c.do(ctx, "DELETE", "/api/v1/keys/clients/"+esc(clientID), nil, nil)
}

// UploadPreKeys appends one-time prekeys (X25519, and signed ML-KEM-768
// ones) to one of the user's clients and returns how many it holds.
func (c *Client) UploadPreKeys(ctx context.Context, clientID string, oneTime []unhidra.PreKey, pq []unhidra.SignedPreKey) (unhidra.PreKeyCounts, error) {
	var out unhidra.PreKeyCounts
	if err := need("upload prekeys", clientID); err != nil {
		return out, err
	}
	in := struct {
		OneTime []unhidra.PreKey       `json:"one_time_prekeys,omitempty"`
		PQ      []unhidra.SignedPreKey `json:"pq_one_time_prekeys,omitempty"`
	}{oneTime, pq}
	err := c.do(ctx, "POST", "/api/v1/keys/clients/"+esc(clientID)+"/prekeys", in, &out)
	return out, err
}

// PreKeyCount returns how many one-time prekeys one of the user's clients
// has left.
func (c *Client) PreKeyCount(ctx context.Context, clientID string) (unhidra.PreKeyCounts, error) {
	var out unhidra.PreKeyCounts
	if err := need("prekey count", clientID); err != nil {
		return out, err
	}
	err := c.do(ctx, "GET", "/api/v1/keys/clients/"+esc(clientID)+"/prekeys/count", nil, &out)
	return out, err
}

// UserKeys fetches a user's keys: master key, signed client list and one
// bundle per client install, each taking one of that client's one-time
// prekeys. Fetches are rate-limited (CodeRateLimited).
func (c *Client) UserKeys(ctx context.Context, userID string) (*unhidra.UserKeys, error) {
	if err := need("user keys", userID); err != nil {
		return nil, err
	}
	var out struct {
		Keys *unhidra.UserKeys `json:"keys"`
	}
	err := c.do(ctx, "GET", "/api/v1/users/"+esc(userID)+"/keys", nil, &out)
	return out.Keys, err
}

// SetMasterKey sets the user's master signing key; replacing one needs
// replace, and everyone sees the change.
func (c *Client) SetMasterKey(ctx context.Context, key []byte, replace bool) error {
	in := struct {
		MasterKey []byte `json:"master_key"`
		Replace   bool   `json:"replace,omitempty"`
	}{key, replace}
	return c.do(ctx, "PUT", "/api/v1/keys/users/me/master", in, nil)
}

// SetClientList stores the user's client list signed by the master key
// (list.UserID and UpdatedAt are the server's to set; Version must be above
// the stored list's).
func (c *Client) SetClientList(ctx context.Context, list *unhidra.ClientList) (*unhidra.ClientList, error) {
	in := struct {
		Version   uint64                    `json:"version"`
		MasterKey []byte                    `json:"master_key"`
		Clients   []unhidra.ClientListEntry `json:"clients"`
		Sig       []byte                    `json:"sig"`
	}{list.Version, list.MasterKey, list.Clients, list.Sig}
	var out struct {
		ClientList *unhidra.ClientList `json:"client_list"`
	}
	err := c.do(ctx, "PUT", "/api/v1/keys/users/me/client-list", in, &out)
	return out.ClientList, err
}

// KeyBackup returns the user's encrypted key backup (CodeNotFound for
// none).
func (c *Client) KeyBackup(ctx context.Context) (*unhidra.KeyBackup, error) {
	var out struct {
		Backup *unhidra.KeyBackup `json:"backup"`
	}
	err := c.do(ctx, "GET", "/api/v1/keys/backup", nil, &out)
	return out.Backup, err
}

// PutKeyBackup replaces the user's key backup with version, which must be
// above the stored one (CodeConflict otherwise).
func (c *Client) PutKeyBackup(ctx context.Context, version int64, authData, data []byte) error {
	in := struct {
		Version  int64  `json:"version"`
		AuthData []byte `json:"auth_data"`
		Data     []byte `json:"data"`
	}{version, orBytes(authData), data}
	return c.do(ctx, "PUT", "/api/v1/keys/backup", in, nil)
}

// DeleteKeyBackup deletes the user's key backup.
func (c *Client) DeleteKeyBackup(ctx context.Context) error {
	return c.do(ctx, "DELETE", "/api/v1/keys/backup", nil, nil)
}

// ToDeviceOut is one message of SendToDevice.
type ToDeviceOut struct {
	UserID     string `json:"user_id"`
	ClientID   string `json:"client_id"`
	Ciphertext []byte `json:"ciphertext"`
}

// SendToDevice sends pairwise ciphertext to client installs and returns
// the messages' ids. fromClient names the sender's client when the access
// token is bound to none (empty: the token's client_id).
func (c *Client) SendToDevice(ctx context.Context, fromClient string, msgs []ToDeviceOut) ([]string, error) {
	in := struct {
		FromClient string        `json:"from_client,omitempty"`
		Messages   []ToDeviceOut `json:"messages"`
	}{fromClient, msgs}
	var out struct {
		IDs []string `json:"ids"`
	}
	err := c.do(ctx, "POST", "/api/v1/to-device", in, &out)
	return out.IDs, err
}

// ToDeviceMessages returns a page of the unacknowledged to-device messages
// of one of the user's clients (clientID, or empty for the access token's),
// oldest first, and the cursor of the next page ("" at the end).
func (c *Client) ToDeviceMessages(ctx context.Context, clientID, cursor string, limit int) ([]*unhidra.ToDeviceMessage, string, error) {
	var out struct {
		Messages   []*unhidra.ToDeviceMessage `json:"messages"`
		NextCursor string                     `json:"next_cursor"`
	}
	l := ""
	if limit > 0 {
		l = strconv.Itoa(limit)
	}
	err := c.do(ctx, "GET", "/api/v1/to-device"+query("client_id", clientID, "cursor", cursor, "limit", l), nil, &out)
	return out.Messages, out.NextCursor, err
}

// AckToDevice acknowledges to-device messages over REST (a socket
// acknowledges with Conn.AckToDevice): the server deletes them. It returns
// how many it deleted.
func (c *Client) AckToDevice(ctx context.Context, clientID string, ids []string) (int, error) {
	in := struct {
		ClientID string   `json:"client_id,omitempty"`
		IDs      []string `json:"ids"`
	}{clientID, ids}
	var out struct {
		Deleted int `json:"deleted"`
	}
	err := c.do(ctx, "POST", "/api/v1/to-device/ack", in, &out)
	return out.Deleted, err
}

func orBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
