package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/authstore"
	"github.com/unhidra/unhidra/store/chatstore"
)

// testSearchPlans checks that every plan Search can choose (the full-text
// index driving, the newest-first walk in batches of any size, the walk
// that finishes from the full-text index, merged walks per sender or per
// channel, and the one walk over all messages) returns, page by page, each
// message a query matches exactly once, newest first by (created_at, id).
// The history makes that hard: created_at ties in threes, messages stored
// in an order unrelated to created_at (so rowids do not follow time), ids
// whose order among ties is not the order of storage, tombstones, an
// encrypted channel and a channel the searcher is not in. The expected
// pages are computed here, from the messages, for every combination of
// terms, in:, from: and time bounds.
func testSearchPlans(t *testing.T, db *store.DB) {
	ctx := t.Context()
	users := authstore.New(db)
	alice, bob, carol := newUser(t, users, "alice"), newUser(t, users, "bobby"), newUser(t, users, "carol")
	plain := chatstore.New(db)
	newChannel(t, plain, "c1", "one", unhidra.ChannelPublic, false, alice.ID, bob.ID, carol.ID)
	newChannel(t, plain, "c2", "two", unhidra.ChannelPrivate, false, alice.ID, bob.ID)
	newChannel(t, plain, "c3", "three", unhidra.ChannelPrivate, true, alice.ID, bob.ID)
	newChannel(t, plain, "c4", "four", unhidra.ChannelPublic, false, bob.ID, carol.ID)

	const total = 240
	rng := rand.New(rand.NewPCG(7, 9))
	vocab := []string{"alpha", "beta", "gamma", "delta", "omega"}
	weights := []int{12, 6, 6, 4, 1}
	word := func() string {
		n := rng.IntN(29)
		for i, w := range weights {
			if n < w {
				return vocab[i]
			}
			n -= w
		}
		return vocab[0]
	}
	type msg struct {
		m       *unhidra.Message
		deleted bool
	}
	var all []*msg
	chans := []string{"c1", "c2", "c3", "c4"}
	senders := []string{alice.ID, bob.ID, carol.ID}
	idOrder := rng.Perm(total)
	for i := range total {
		ws := make([]string, 2+rng.IntN(5))
		for j := range ws {
			ws[j] = word()
		}
		ws[0] = strings.ToUpper(ws[0][:1]) + ws[0][1:]
		all = append(all, &msg{m: &unhidra.Message{
			// Ids order ties differently from created_at and from storage.
			ID: fmt.Sprintf("m%03d", idOrder[i]), ChannelID: chans[i%len(chans)], ClientMsgID: fmt.Sprint(i),
			Sender: unhidra.Sender{Type: unhidra.SenderUser, ID: senders[rng.IntN(len(senders))]},
			Kind:   unhidra.MessageText, Body: strings.Join(ws, " ") + ".",
			// Three messages share each millisecond.
			CreatedAt: now.Add(time.Duration(i/3) * time.Millisecond),
		}, deleted: rng.IntN(12) == 0})
	}
	seqs := map[string]int64{}
	mustOK(t, plain.Tx(ctx, func(tx chat.Tx) error {
		// Stored in random order, so rowids do not follow created_at.
		for _, i := range rng.Perm(total) {
			m := all[i].m
			seqs[m.ChannelID]++
			m.Seq = seqs[m.ChannelID]
			if err := tx.InsertMessage(ctx, m, "h"); err != nil {
				return err
			}
		}
		for _, x := range all {
			if x.deleted {
				if err := tx.TombstoneMessage(ctx, x.m.ID, now); err != nil {
					return err
				}
			}
		}
		return nil
	}))

	// want lists what q matches, newest first.
	want := func(q chat.SearchQuery) []string {
		var out []*unhidra.Message
		for _, x := range all {
			m := x.m
			if x.deleted || (m.ChannelID != "c1" && m.ChannelID != "c2") ||
				(len(q.ChannelIDs) > 0 && !slices.Contains(q.ChannelIDs, m.ChannelID)) ||
				(len(q.SenderIDs) > 0 && !slices.Contains(q.SenderIDs, m.Sender.ID)) ||
				(q.Since != nil && m.CreatedAt.Before(*q.Since)) || (q.Until != nil && !m.CreatedAt.Before(*q.Until)) {
				continue
			}
			ok := true
			for _, term := range q.Terms {
				ok = ok && containsPhrase(m.Body, term)
			}
			if ok {
				out = append(out, m)
			}
		}
		slices.SortFunc(out, func(a, b *unhidra.Message) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		ids := make([]string, len(out))
		for i, m := range out {
			ids[i] = m.ID
		}
		return ids
	}

	tunings := []struct {
		name string
		t    chatstore.SearchTuning
	}{
		{"defaults", chatstore.SearchTuning{}},
		{"walk", chatstore.SearchTuning{RareMatches: 1}},
		{"walk-tiny-batches", chatstore.SearchTuning{RareMatches: 1, FirstBatch: 1, MaxBatch: 2, WalkBudget: 1 << 30}},
		{"walk-then-text", chatstore.SearchTuning{RareMatches: 1, FirstBatch: 2, MaxBatch: 4, WalkBudget: 5}},
		{"one-walk-over-all", chatstore.SearchTuning{RareMatches: 1, FirstBatch: 3, MaxArms: 1}},
		{"text-after-one-row", chatstore.SearchTuning{RareMatches: 1 << 30, FirstBatch: 1, WalkBudget: 1}},
	}
	mid, late := now.Add(20*time.Millisecond), now.Add(60*time.Millisecond)
	filters := []struct {
		name string
		q    chat.SearchQuery
	}{
		{"all", chat.SearchQuery{}},
		{"in-one", chat.SearchQuery{ChannelIDs: []string{"c1"}}},
		{"in-two", chat.SearchQuery{ChannelIDs: []string{"c1", "c2"}}},
		{"in-encrypted", chat.SearchQuery{ChannelIDs: []string{"c3"}}},
		{"in-not-member", chat.SearchQuery{ChannelIDs: []string{"c4"}}},
		{"from-one", chat.SearchQuery{SenderIDs: []string{bob.ID}}},
		{"from-two", chat.SearchQuery{SenderIDs: []string{bob.ID, carol.ID}}},
		{"in-and-from", chat.SearchQuery{ChannelIDs: []string{"c1"}, SenderIDs: []string{bob.ID}}},
		{"since", chat.SearchQuery{Since: &late}},
		{"until", chat.SearchQuery{Until: &mid}},
		{"window-in-from", chat.SearchQuery{ChannelIDs: []string{"c1", "c2"}, SenderIDs: []string{alice.ID, carol.ID}, Since: &mid, Until: &late}},
	}
	terms := [][]string{nil, {"alpha"}, {"OMEGA"}, {"beta gamma"}, {"alpha", "delta"}}
	for _, tu := range tunings {
		st := chatstore.NewWithSearchTuning(db, tu.t)
		for _, f := range filters {
			for ti, tm := range terms {
				if tm == nil && f.name == "all" {
					continue // the service refuses a query with neither
				}
				t.Run(fmt.Sprintf("%s/%s/%d", tu.name, f.name, ti), func(t *testing.T) {
					q := f.q
					q.UserID, q.Terms = alice.ID, tm
					exp := want(q)
					page := 1 + (ti+len(f.name))%7
					var got []string
					for range total {
						q.Limit = page + 1 // as the service asks: one more tells a next page
						ms, err := st.Search(ctx, q)
						mustOK(t, err)
						for _, m := range ms[:min(len(ms), page)] {
							got = append(got, m.ID)
						}
						if len(ms) <= page {
							break
						}
						last := ms[page-1]
						q.CursorAt, q.CursorID = last.CreatedAt, last.ID
					}
					if !slices.Equal(got, exp) {
						t.Fatalf("pages of %d found\n%v\nwant\n%v", page, got, exp)
					}
				})
			}
		}
	}
}

// containsPhrase reports whether body holds the words of phrase
// consecutively, as whole words and case-insensitively: the contract of a
// search term, for the ASCII words of testSearchPlans.
func containsPhrase(body, phrase string) bool {
	split := func(s string) []string {
		return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	}
	bw, pw := split(body), split(phrase)
	for i := 0; i+len(pw) <= len(bw); i++ {
		if slices.Equal(bw[i:i+len(pw)], pw) {
			return true
		}
	}
	return false
}
