package chat

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
)

// Query is a parsed search query.
type Query struct {
	// Terms are words and "quoted phrases"; a message must contain each,
	// a phrase as consecutive words. Case-insensitive, whole words.
	Terms []string
	In    []string // in:<channel name> (lower-cased, without '#')
	From  []string // from:<username> (lower-cased, without '@')
	// Before and After are from before:/after:<YYYY-MM-DD> (UTC days):
	// created before the start of Before, or after the end of After.
	Before, After *time.Time
}

// Query limits.
const (
	MaxQueryLen   = 512
	MaxQueryTerms = 16
)

// ParseQuery parses a search query: words, "quoted phrases" (an unclosed
// quote runs to the end) and the operators in:, from:, before: and after:
// (case-insensitive; several in: or from: mean any of them). A term with
// no letter or digit is dropped, since no message can match it. A query
// must hold at least one term or operator.
func ParseQuery(q string) (*Query, error) {
	if len(q) > MaxQueryLen {
		return nil, unhidra.Errorf(unhidra.EInvalid, "q is at most %d bytes", MaxQueryLen)
	}
	if !utf8.ValidString(q) {
		return nil, unhidra.Errorf(unhidra.EInvalid, "q must be valid UTF-8")
	}
	out := &Query{}
	ops := 0
	for i := 0; i < len(q); {
		r, size := utf8.DecodeRuneInString(q[i:])
		if unicode.IsSpace(r) {
			i += size
			continue
		}
		if r == '"' {
			end := strings.IndexByte(q[i+1:], '"')
			var phrase string
			if end < 0 {
				phrase, i = q[i+1:], len(q)
			} else {
				phrase, i = q[i+1:i+1+end], i+2+end
			}
			out.addTerm(phrase)
			continue
		}
		j := i
		for j < len(q) {
			r, size := utf8.DecodeRuneInString(q[j:])
			if unicode.IsSpace(r) {
				break
			}
			j += size
		}
		tok := q[i:j]
		i = j
		op, val, isOp := strings.Cut(tok, ":")
		if !isOp {
			out.addTerm(tok)
			continue
		}
		switch strings.ToLower(op) {
		case "in":
			val = strings.ToLower(strings.TrimPrefix(val, "#"))
			if val == "" {
				return nil, unhidra.Errorf(unhidra.EInvalid, "in: needs a channel name")
			}
			out.In = append(out.In, val)
		case "from":
			val = strings.ToLower(strings.TrimPrefix(val, "@"))
			if val == "" {
				return nil, unhidra.Errorf(unhidra.EInvalid, "from: needs a username")
			}
			out.From = append(out.From, val)
		case "before", "after":
			d, err := time.Parse("2006-01-02", val)
			if err != nil {
				return nil, unhidra.Errorf(unhidra.EInvalid, "%s: needs a date as YYYY-MM-DD", strings.ToLower(op))
			}
			if strings.ToLower(op) == "before" {
				out.Before = &d
			} else {
				d = d.Add(24 * time.Hour)
				out.After = &d
			}
		default:
			// Not an operator: "re:thing" or "12:30" are words.
			out.addTerm(tok)
			continue
		}
		ops++
	}
	if len(out.Terms) > MaxQueryTerms {
		return nil, unhidra.Errorf(unhidra.EInvalid, "q has at most %d words and phrases", MaxQueryTerms)
	}
	if len(out.Terms) == 0 && ops == 0 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "q needs at least one word, phrase or operator")
	}
	return out, nil
}

func (q *Query) addTerm(t string) {
	t = strings.TrimSpace(t)
	if len(words(t)) == 0 {
		return
	}
	q.Terms = append(q.Terms, t)
}

// word is a run of letters, digits and marks: the unit both engines'
// tokenizers index, closely enough for highlighting.
type word struct {
	text       string // lower-cased
	start, end int    // code point offsets
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r)
}

func words(s string) []word {
	var out []word
	var b strings.Builder
	start, pos := -1, 0
	for _, r := range s {
		if isWordRune(r) {
			if start < 0 {
				start = pos
				b.Reset()
			}
			b.WriteRune(unicode.ToLower(r))
		} else if start >= 0 {
			out = append(out, word{b.String(), start, pos})
			start = -1
		}
		pos++
	}
	if start >= 0 {
		out = append(out, word{b.String(), start, pos})
	}
	return out
}

// Highlight is a matched span of a message body, in Unicode code points:
// body[start:end] counted in runes, end exclusive.
type Highlight struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Highlights returns the spans of body that match terms: each occurrence of
// a term's word sequence (a phrase as a whole), case-insensitively, in
// order, not overlapping. Offsets count code points, never bytes, and no
// markup is produced.
func Highlights(body string, terms []string) []Highlight {
	bw := words(body)
	var phrases [][]word
	for _, t := range terms {
		if w := words(t); len(w) > 0 {
			phrases = append(phrases, w)
		}
	}
	out := []Highlight{}
	for i := 0; i < len(bw); {
		best := 0
		for _, ph := range phrases {
			if len(ph) <= best || i+len(ph) > len(bw) {
				continue
			}
			ok := true
			for k, w := range ph {
				if bw[i+k].text != w.text {
					ok = false
					break
				}
			}
			if ok {
				best = len(ph)
			}
		}
		if best == 0 {
			i++
			continue
		}
		out = append(out, Highlight{Start: bw[i].start, End: bw[i+best-1].end})
		i += best
	}
	return out
}

// SearchHit is one message found, with its highlights.
type SearchHit struct {
	Message    *unhidra.Message `json:"message"`
	Highlights []Highlight      `json:"highlights"`
}

// Search runs a full-text query over the standard (non-encrypted) channels
// the caller is a member of, newest first. Public channels the caller has
// not joined are not searched: search sees exactly what the caller's
// channel list holds. cursor is the next_cursor of the previous page.
func (s *Service) Search(ctx context.Context, q, cursor string, limit int) ([]SearchHit, string, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	pq, err := ParseQuery(q)
	if err != nil {
		return nil, "", err
	}
	sq := SearchQuery{UserID: p.UserID, Terms: pq.Terms, Since: pq.After, Until: pq.Before, Limit: limit + 1}
	if cursor != "" {
		if sq.CursorAt, sq.CursorID, err = decodeCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	empty := []SearchHit{}
	if len(pq.In) > 0 {
		// Only the caller's channels can be named: a channel they are not
		// in is not searched, exactly as if it did not exist.
		done := s.observe("channels_by_name")
		sq.ChannelIDs, err = s.store.ChannelIDsByName(ctx, p.UserID, pq.In)
		done()
		if err != nil {
			return nil, "", err
		}
		if len(sq.ChannelIDs) == 0 {
			return empty, "", nil
		}
	}
	if len(pq.From) > 0 {
		done := s.observe("users_by_username")
		ids, err := s.store.UserIDsByUsername(ctx, pq.From)
		done()
		if err != nil {
			return nil, "", err
		}
		for _, id := range ids {
			sq.SenderIDs = append(sq.SenderIDs, id)
		}
		if len(sq.SenderIDs) == 0 {
			return empty, "", nil
		}
	}
	done := s.observe("search")
	ms, err := s.store.Search(ctx, sq)
	done()
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ms) > limit {
		ms = ms[:limit]
		last := ms[len(ms)-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	if err := s.withReactions(ctx, p.UserID, ms...); err != nil {
		return nil, "", err
	}
	hits := make([]SearchHit, len(ms))
	for i, m := range ms {
		hits[i] = SearchHit{Message: m, Highlights: Highlights(m.Body, pq.Terms)}
	}
	return hits, next, nil
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + ":" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	bad := unhidra.Errorf(unhidra.EInvalid, "cursor is not a next_cursor this server gave out")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 200 {
		return time.Time{}, "", bad
	}
	us, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || unhidra.CheckID("cursor", id) != nil {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(n).UTC(), id, nil
}
