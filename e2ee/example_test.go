package e2ee_test

import (
	"fmt"
	"time"

	"github.com/unhidra/unhidra/e2ee"
)

// A pairwise session: Bob publishes a bundle, Alice starts a session from
// it, Bob answers her first (prekey) message. Errors are ignored for
// brevity; every call returns one.
func Example_session() {
	now := time.Now()
	bob, _ := e2ee.GenerateClientKeys(nil, "bob", "laptop")
	spk, _ := e2ee.GenerateDHKey(nil)
	pq, _ := e2ee.GenerateKEMKey(nil)
	bundle := &e2ee.Bundle{
		ClientIdentity: bob.Public(),
		SignedPrekey:   bob.SignPrekey(1, spk),
		PQPrekey:       bob.SignPQPrekey(1, pq),
	}

	alice, _ := e2ee.GenerateClientKeys(nil, "alice", "phone")
	a, _ := e2ee.Initiate(nil, alice, bundle) // verifies the bundle's signatures
	first, _ := a.Encrypt(nil, []byte("hi Bob"))
	// Save a before sending first; send it to Bob's client as the body of
	// an Envelope with GroupPairwise.

	pm, _ := e2ee.ParsePrekeyMessage(first)
	b, pt, _ := e2ee.Respond(bob, spk, pq, nil, pm, now) // keys looked up by pm's ids
	fmt.Println(string(pt))

	reply, _ := b.Encrypt(nil, []byte("hi Alice"))
	pt, _ = a.Decrypt(reply, now)
	fmt.Println(string(pt), a.Established())
	// Output:
	// hi Bob
	// hi Alice true
}

// A group: the sender key goes to each member over pairwise sessions, then
// every channel message is encrypted once.
func Example_group() {
	now := time.Now()
	alice, _ := e2ee.GenerateClientKeys(nil, "alice", "phone")
	key, _ := e2ee.NewSenderKey(nil, alice, "channel-42", now)
	dist, _ := key.Distribution().MarshalBinary() // send over each member's pairwise session

	d, _ := e2ee.ParseSenderKeyDistribution(dist)
	sender := alice.Public() // the pairwise session's remote identity
	member, _ := e2ee.NewInboundSenderKey(d, &sender)

	msg, _ := key.Encrypt([]byte("hello, channel"))
	env, _ := (&e2ee.Envelope{GroupProtocol: e2ee.GroupSenderKeys, SenderUserID: "alice", SenderClientID: "phone", Body: msg}).MarshalBinary()

	e, _ := e2ee.ParseEnvelope(env)
	pt, _ := member.Decrypt(e.Body, now)
	fmt.Println(string(pt))
	// Output: hello, channel
}
