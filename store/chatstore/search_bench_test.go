package chatstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/authstore"
	"github.com/unhidra/unhidra/store/chatstore"
)

// Environment of BenchmarkSearch.
const (
	// benchMessagesEnv sets the number of messages loaded (default 1,000,000).
	benchMessagesEnv = "UNHIDRA_BENCH_SEARCH_MESSAGES"
	// benchCacheEnv names the directory that keeps loaded SQLite histories
	// between runs (default: unhidra/bench under the user's cache
	// directory); "off" loads afresh every run.
	benchCacheEnv = "UNHIDRA_BENCH_CACHE"
	// benchPostgresEnv, when set, is the URL of a PostgreSQL database to
	// load the history into once and reuse on later runs (with the same
	// message count), instead of a fresh database every run.
	benchPostgresEnv = "UNHIDRA_BENCH_SEARCH_POSTGRES"
)

// BenchmarkSearch measures chat.Service.Search, per query shape, over a
// history of UNHIDRA_BENCH_SEARCH_MESSAGES messages (default 1,000,000)
// loaded straight into the real schema (migrations, indexes, FTS5 triggers
// and the generated tsvector column all in place). Each shape reports the
// p50 and p95 latency of its queries in milliseconds; with -v a table of
// all shapes is logged at the end of each engine.
//
// The history (see searchHistory): 20 channels, one searcher who is a
// member of 19 of them (one of which is end-to-end encrypted, so it never
// matches), 50 senders with a Zipf spread of activity, 9 words per message
// drawn from a 50,000-word vocabulary with a Zipf spread, created over a
// year in insertion order, 0.5% deleted. The shapes (see shapes) search
// words in about 0.002% of the messages (rare), 0.1% (scarce), 0.5%
// (uncommon), 2% (common) and 50% (very common), phrases, two words, and
// each narrowed by in:, from:, before: and after:, alone and together.
//
// SQLite's loaded file is kept under UNHIDRA_BENCH_CACHE, keyed by the
// message count, the loader's version and the SQLite migrations, so only
// the first run pays for the load; PostgreSQL gets a fresh database from
// internal/testenv every run unless UNHIDRA_BENCH_SEARCH_POSTGRES names one
// to keep it in.
//
//	go test -run '^$' -bench Search -benchtime 200x -v ./store/chatstore
//	UNHIDRA_BENCH_SEARCH_MESSAGES=10000000 go test -run '^$' -bench Search/sqlite -benchtime 100x -v -timeout 3h ./store/chatstore
//
// On the 2-core development VM (PostgreSQL 15 on the same host, other work
// running: load average 2 to 6), p50/p95 in ms at 1,000,000 messages, before
// (the single query that joined the full-text index, sorted every match,
// and resolved in: through the channel list with its unread counts; 20
// runs a shape) and after (200 runs), and after at 10,000,000 on SQLite
// (100 runs); loading took 76 s on SQLite, 62 s on PostgreSQL and 15 min
// for 10,000,000 on SQLite:
//
//	shape                 SQLite before       after   PostgreSQL before       after    SQLite 10M
//	rare                      0.43/2.17   1.62/2.48           0.97/2.85   1.73/2.65     3.35/5.38
//	scarce                    6.53/32.6   9.78/21.0           6.56/13.2   6.48/16.7     60.4/77.3
//	uncommon                   24.1/133   20.0/26.9           5.88/12.8   13.0/20.0     18.3/25.9
//	common                     88.7/329   7.92/10.1           2.36/3.93   4.52/6.03     8.61/11.5
//	very-common                920/1927   2.27/3.14           1.16/1.52   1.25/2.08     1.98/3.56
//	phrase                    76.8/88.2   17.3/22.3           3.86/5.01   10.0/11.9     13.4/17.9
//	phrase-rare               1.88/2.35   5.87/7.05           3.28/3.58   6.13/7.02     32.4/40.4
//	two-words                 58.7/63.0   14.1/20.1           3.64/4.70   8.04/10.4     15.6/22.6
//	common+rare               0.59/0.84   3.12/3.40           0.67/1.47   1.65/2.61     6.03/10.2
//	common-page5               93.7/120   8.01/10.6           6.98/7.77   4.62/6.41     6.65/7.77
//	rare+in                   1795/1969   1.39/3.33           2880/3151   1.84/2.80     2.32/2.76
//	common+in                 1935/2059   7.77/10.3           3234/3500   7.98/11.9     7.30/8.41
//	very-common+in            2579/2881   2.39/6.03           3278/3614   1.74/2.93     2.15/2.69
//	common+from               52.0/77.3   9.52/20.9           56.4/71.0   11.5/23.8     7.74/10.9
//	common+in+from            2252/2676   9.88/13.1           3047/3454   3.94/5.12     24.7/56.0
//	very-common+in+from       2584/3316   22.9/37.0           3031/3503   2.01/3.38     30.3/43.0
//	common+before             74.2/95.3   5.99/8.04           2.37/7.12   4.70/6.26     7.35/14.1
//	common+after              64.2/74.3   7.43/8.52           2.11/3.58   5.17/7.68     10.8/18.4
//	common+after+before       46.5/61.5   6.06/8.09           11.7/22.1   4.73/6.67     8.27/18.5
//	in-only                   2281/2549   0.38/0.68           2773/2947   0.71/1.49     0.47/0.96
//	from-only                 30.7/66.7   0.41/0.70           3.26/3.84   0.66/1.35     0.87/1.40
//	in+from-only              1962/2263   0.41/0.70           2879/3116   0.80/1.85     0.59/1.20
//	before-only               1844/1993   0.38/0.70           0.91/3.20   0.53/1.30     0.63/1.22
//	in-encrypted              1843/2028   0.04/0.06           2909/3229   0.28/0.37     0.09/0.11
func BenchmarkSearch(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv(benchMessagesEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10_000 {
			b.Fatalf("%s=%q: want a whole number of at least 10000", benchMessagesEnv, v)
		}
	}
	h := newSearchHistory(n)
	b.Run(store.EngineSQLite, func(b *testing.B) { benchSearch(b, h, openSQLiteHistory(b, h)) })
	b.Run(store.EnginePostgres, func(b *testing.B) { benchSearch(b, h, openPostgresHistory(b, h)) })
}

// openPostgresHistory loads the history into a fresh database, or into the
// one benchPostgresEnv names, unless that one holds it already.
func openPostgresHistory(b *testing.B, h *searchHistory) *store.DB {
	url := os.Getenv(benchPostgresEnv)
	if url == "" {
		url = testenv.PostgresURL(b)
	}
	db := openStore(b, url)
	var n int
	if err := db.Read().QueryRow(b.Context(), `SELECT COUNT(*) FROM users WHERE id = ?`, h.searcher()).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n > 0 {
		b.Logf("postgres: using the history already in %s", benchPostgresEnv)
		return db
	}
	start := time.Now()
	if err := h.load(b.Context(), db); err != nil {
		b.Fatal(err)
	}
	b.Logf("postgres: loaded %d messages in %s", h.n, time.Since(start).Round(time.Second))
	return db
}

func benchSearch(b *testing.B, h *searchHistory, db *store.DB) {
	svc := chat.New(chat.Config{Store: chatstore.New(db)})
	ctx := unhidra.NewContextWithPrincipal(b.Context(), &unhidra.Principal{UserID: h.searcher(), Role: unhidra.RoleMember})
	const limit = 50 // the API's default page
	var table []string
	for _, s := range h.shapes() {
		b.Run(s.name, func(b *testing.B) {
			cursors := make([]string, len(s.queries))
			for i, q := range s.queries {
				// Deeper pages start from the cursor the earlier pages gave.
				for range s.page - 1 {
					_, next, err := svc.Search(ctx, q, cursors[i], limit)
					if err != nil {
						b.Fatal(err)
					}
					cursors[i] = next
				}
			}
			var lat []time.Duration
			hits := 0
			i := 0
			for b.Loop() {
				k := i % len(s.queries)
				i++
				start := time.Now()
				got, _, err := svc.Search(ctx, s.queries[k], cursors[k], limit)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				hits += len(got)
			}
			p50, p95 := percentile(lat, 50), percentile(lat, 95)
			b.ReportMetric(ms(p50), "p50-ms")
			b.ReportMetric(ms(p95), "p95-ms")
			b.ReportMetric(float64(hits)/float64(len(lat)), "hits/op")
			table = append(table, fmt.Sprintf("%-26s %9.2f %9.2f %6d  %s", s.name, ms(p50), ms(p95), len(lat), s.queries[0]))
		})
	}
	b.Logf("%s, %d messages, page of %d:\n%-26s %9s %9s %6s  %s\n%s", db.Engine(), h.n, limit,
		"shape", "p50 ms", "p95 ms", "runs", "first query", strings.Join(table, "\n"))
}

func percentile(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func openStore(b *testing.B, url string) *store.DB {
	b.Helper()
	db, err := store.Open(b.Context(), url, store.Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Error(err)
		}
	})
	return db
}

// openSQLiteHistory opens the SQLite history from the cache, loading it
// first if it is not there. A load is written to a temporary file and
// renamed into place once complete, so an interrupted run leaves nothing
// that a later run would trust.
func openSQLiteHistory(b *testing.B, h *searchHistory) *store.DB {
	dir, key := benchCacheDir(b), h.cacheKey(b)
	if dir == "" || key == "" {
		db := openStore(b, testenv.SQLiteURL(b))
		start := time.Now()
		if err := h.load(b.Context(), db); err != nil {
			b.Fatal(err)
		}
		b.Logf("sqlite: loaded %d messages in %s (not cached)", h.n, time.Since(start).Round(time.Second))
		return db
	}
	path := filepath.Join(dir, "search-sqlite-"+strconv.Itoa(h.n)+"-"+key+".db")
	if _, err := os.Stat(path); err != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		tmp := fmt.Sprintf("%s.tmp%d.db", strings.TrimSuffix(path, ".db"), os.Getpid())
		defer removeSQLite(tmp)
		start := time.Now()
		db, err := store.Open(b.Context(), tmp, store.Options{Migrate: true})
		if err == nil {
			err = h.load(b.Context(), db)
			err = errors.Join(err, db.Close())
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		b.Logf("sqlite: loaded %d messages in %s into %s", h.n, time.Since(start).Round(time.Second), path)
	}
	return openStore(b, path)
}

func removeSQLite(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}

func benchCacheDir(b *testing.B) string {
	switch v := os.Getenv(benchCacheEnv); v {
	case "off":
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			b.Logf("no user cache directory (%v): the history is loaded afresh", err)
			return ""
		}
		return filepath.Join(base, "unhidra", "bench")
	default:
		return v
	}
}

// searchHistoryVersion changes whenever the loader's output does, so that
// no cached file of an older loader is used.
const searchHistoryVersion = 1

// cacheKey fingerprints what the cached file depends on besides the
// message count: the loader's version and the SQLite schema. It is "" (no
// caching) when the migrations cannot be read from the source tree.
func (h *searchHistory) cacheKey(b *testing.B) string {
	files, err := filepath.Glob(filepath.Join("..", "migrations", store.EngineSQLite, "*.sql"))
	if err != nil || len(files) == 0 {
		b.Logf("migrations not found (%v): the history is not cached", err)
		return ""
	}
	sort.Strings(files)
	sum := sha256.New()
	fmt.Fprintf(sum, "v%d\n", searchHistoryVersion)
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			b.Logf("migrations unreadable (%v): the history is not cached", err)
			return ""
		}
		fmt.Fprintf(sum, "%s %d\n", filepath.Base(f), len(body))
		sum.Write(body)
	}
	return hex.EncodeToString(sum.Sum(nil))[:16]
}

// searchHistory describes a synthetic chat history and loads it. Everything
// is derived from a fixed seed, so every run and both engines see the same
// messages.
type searchHistory struct {
	n        int
	vocab    []string  // by rank, most frequent first
	wordCDF  []float64 // cumulative Zipf weights of vocab
	sendCDF  []float64 // cumulative Zipf weights of the senders
	start    time.Time
	span     time.Duration
	channels []benchChannel
}

type benchChannel struct {
	id, name  string
	encrypted bool
	member    bool // the searcher is a member
}

const (
	benchVocab    = 50_000
	benchSenders  = 50
	benchWords    = 9
	benchChannels = 20
)

func newSearchHistory(n int) *searchHistory {
	h := &searchHistory{
		n:     n,
		start: time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC),
		span:  365 * 24 * time.Hour,
	}
	h.vocab = make([]string, benchVocab)
	seen := map[string]bool{}
	for r := range h.vocab {
		w := pseudoWord(r)
		if seen[w] {
			panic("benchmark vocabulary repeats " + w)
		}
		seen[w] = true
		h.vocab[r] = w
	}
	h.wordCDF = zipfCDF(benchVocab, 1.0)
	h.sendCDF = zipfCDF(benchSenders, 1.0)
	for i := range benchChannels {
		h.channels = append(h.channels, benchChannel{
			id: fmt.Sprintf("00000000-0000-7000-8000-%012d", i), name: fmt.Sprintf("chan%02d", i),
			// The searcher is in every channel but the last; the one before
			// it is encrypted, so its messages never match.
			member: i != benchChannels-1, encrypted: i == benchChannels-2,
		})
	}
	return h
}

// pseudoWord spells rank r as consonant-vowel syllables: distinct,
// lower-case ASCII words that both engines tokenize alike.
func pseudoWord(r int) string {
	const cons, vows = "bdfgklmnprstvz", "aeiou"
	var b strings.Builder
	// Two syllables at least, so no word is a one-letter token.
	for i, v := 0, r+len(cons)*len(vows); i == 0 || v > 0; i++ {
		s := v % (len(cons) * len(vows))
		v /= len(cons) * len(vows)
		b.WriteByte(cons[s/len(vows)])
		b.WriteByte(vows[s%len(vows)])
	}
	return b.String()
}

func zipfCDF(n int, s float64) []float64 {
	cdf := make([]float64, n)
	total := 0.0
	for r := range n {
		total += 1 / math.Pow(float64(r+1), s)
		cdf[r] = total
	}
	for r := range cdf {
		cdf[r] /= total
	}
	return cdf
}

func pick(cdf []float64, rng *rand.Rand) int {
	return min(len(cdf)-1, sort.SearchFloat64s(cdf, rng.Float64()))
}

// docFraction is the expected fraction of messages containing the word of
// rank r.
func (h *searchHistory) docFraction(r int) float64 {
	p := h.wordCDF[r]
	if r > 0 {
		p -= h.wordCDF[r-1]
	}
	return 1 - math.Pow(1-p, benchWords)
}

// rankNear returns the rank whose expected document fraction is closest to
// f, and the k ranks after it.
func (h *searchHistory) ranksNear(f float64, k int) []int {
	best := 0
	for r := range h.vocab {
		if math.Abs(h.docFraction(r)-f) < math.Abs(h.docFraction(best)-f) {
			best = r
		}
	}
	out := make([]int, k)
	for i := range out {
		out[i] = min(best+i, len(h.vocab)-1)
	}
	return out
}

func (h *searchHistory) searcher() string { return "00000000-0000-7000-8000-100000000000" }

func (h *searchHistory) sender(i int) string {
	return fmt.Sprintf("00000000-0000-7000-8000-2%011d", i)
}

func senderName(i int) string { return fmt.Sprintf("sender%02d", i) }

type benchMessage struct {
	id, channel, sender, body, cipher string
	seq, created                      int64
	deleted                           bool
}

// each calls fn with every message of the history, in created_at order.
func (h *searchHistory) each(fn func(m *benchMessage) error) error {
	rng := rand.New(rand.NewPCG(1, 2))
	seqs := make([]int64, len(h.channels))
	gap := float64(h.span.Microseconds()) / float64(h.n)
	at := float64(h.start.UnixMicro())
	var words [benchWords]string
	var m benchMessage
	for range h.n {
		at += rng.ExpFloat64() * gap
		c := rng.IntN(len(h.channels))
		seqs[c]++
		created := int64(at)
		var id uuid.UUID
		binary.BigEndian.PutUint64(id[0:8], uint64(created/1000)<<16|rng.Uint64()&0xfff)
		binary.BigEndian.PutUint64(id[8:16], rng.Uint64())
		id[6] = 0x70 | id[6]&0x0f // version 7
		id[8] = 0x80 | id[8]&0x3f // RFC 9562 variant
		for i := range words {
			words[i] = h.vocab[pick(h.wordCDF, rng)]
		}
		words[0] = strings.ToUpper(words[0][:1]) + words[0][1:]
		m = benchMessage{
			id: id.String(), channel: h.channels[c].id, sender: h.sender(pick(h.sendCDF, rng)),
			seq: seqs[c], created: created, deleted: rng.IntN(200) == 0,
		}
		switch {
		case m.deleted:
			// A tombstone keeps no content (TombstoneMessage).
		case h.channels[c].encrypted:
			m.cipher = hex.EncodeToString([]byte(strings.Join(words[:], " ")))
		default:
			m.body = strings.Join(words[:], " ") + "."
		}
		if err := fn(&m); err != nil {
			return err
		}
	}
	return nil
}

// load writes the history into db: users and channels through the stores,
// messages with multi-row INSERTs in large transactions.
func (h *searchHistory) load(ctx context.Context, db *store.DB) error {
	users, chats := authstore.New(db), chatstore.New(db)
	at := h.start.Add(-time.Hour)
	mk := func(id, name string) error {
		return users.CreateUser(ctx, &unhidra.User{ID: id, Username: name, DisplayName: name, Role: unhidra.RoleMember,
			CreatedAt: at, UpdatedAt: at}, "x", auth.CreateUserOptions{Now: at})
	}
	if err := mk(h.searcher(), "searcher"); err != nil {
		return err
	}
	for i := range benchSenders {
		if err := mk(h.sender(i), senderName(i)); err != nil {
			return err
		}
	}
	err := chats.Tx(ctx, func(tx chat.Tx) error {
		for _, c := range h.channels {
			ch := &unhidra.Channel{ID: c.id, Name: c.name, Kind: unhidra.ChannelPublic, Encrypted: c.encrypted,
				CreatedBy: h.sender(0), CreatedAt: at, UpdatedAt: at}
			if err := tx.InsertChannel(ctx, ch, ""); err != nil {
				return err
			}
			members := []string{}
			if c.member {
				members = append(members, h.searcher())
			}
			for i := range benchSenders {
				members = append(members, h.sender(i))
			}
			for _, u := range members {
				if err := tx.InsertMember(ctx, &unhidra.Member{ChannelID: c.id, UserID: u, Role: unhidra.ChannelMember, JoinedAt: at}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	const cols = 16
	const rowsPerInsert, rowsPerTx = 1000, 100_000
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	insert := func(c store.Conn, args []any) error {
		q := `INSERT INTO messages (id, channel_id, seq, client_msg_id, content_hash, sender_type, sender_id, kind, body,
			ciphertext, mentions, reply_count, pinned, created_at, edited_at, deleted_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat(row+", ", len(args)/cols), ", ")
		if _, err := c.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("load messages: %w", err)
		}
		return nil
	}
	var batch []*benchMessage
	flush := func() error {
		err := db.InTx(ctx, func(c store.Conn) error {
			args := make([]any, 0, rowsPerInsert*cols)
			for i, m := range batch {
				var deleted any
				if m.deleted {
					deleted = m.created + 1000
				}
				sum := sha256.Sum256([]byte(m.body))
				args = append(args, m.id, m.channel, m.seq, "c"+strconv.FormatInt(m.seq, 10), hex.EncodeToString(sum[:]),
					unhidra.SenderUser, m.sender, unhidra.MessageText, m.body, m.cipher, "", 0, false, m.created, nil, deleted)
				if len(args) == cap(args) || i == len(batch)-1 {
					if err := insert(c, args); err != nil {
						return err
					}
					args = args[:0]
				}
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	err = h.each(func(m *benchMessage) error {
		cp := *m
		batch = append(batch, &cp)
		if len(batch) == rowsPerTx {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return err
	}
	err = db.InTx(ctx, func(c store.Conn) error {
		_, err := c.Exec(ctx, `UPDATE channels SET last_seq = (SELECT COALESCE(MAX(seq), 0) FROM messages m WHERE m.channel_id = channels.id)`)
		return err
	})
	if err != nil || db.Engine() != store.EnginePostgres {
		return err
	}
	// What autovacuum does soon after a bulk load, done now so that the
	// first shapes are not measured before it and the rest after: planner
	// statistics, the visibility map, and the GIN index's pending list
	// merged. SQLite gets no ANALYZE, as the server never runs one.
	if _, err := db.Write().Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}

// benchShape is one kind of search, with a few queries of that kind that
// the benchmark cycles through.
type benchShape struct {
	name    string
	queries []string
	page    int // 1 for the first page
}

func (h *searchHistory) shapes() []benchShape {
	words := func(f float64) []string {
		var out []string
		for _, r := range h.ranksNear(f, 4) {
			out = append(out, h.vocab[r])
		}
		return out
	}
	rare, scarce, uncommon := words(0.00002), words(0.001), words(0.005)
	common, veryCommon := words(0.02), words(0.5)
	top := h.vocab[:6]
	each := func(ws []string, f string) []string {
		out := make([]string, len(ws))
		for i, w := range ws {
			out[i] = fmt.Sprintf(f, w)
		}
		return out
	}
	day := func(d int) string { return h.start.AddDate(0, 0, d).Format("2006-01-02") }
	in := "in:" + h.channels[3].name
	from := "from:" + senderName(9) // about 2% of the messages
	return []benchShape{
		{name: "rare", queries: rare},
		{name: "scarce", queries: scarce},
		{name: "uncommon", queries: uncommon},
		{name: "common", queries: common},
		{name: "very-common", queries: veryCommon},
		{name: "phrase", queries: []string{`"` + top[1] + " " + top[2] + `"`, `"` + top[2] + " " + top[1] + `"`,
			`"` + top[1] + " " + top[3] + `"`, `"` + top[3] + " " + top[1] + `"`}},
		{name: "phrase-rare", queries: []string{`"` + h.vocab[40] + " " + h.vocab[41] + `"`, `"` + h.vocab[41] + " " + h.vocab[40] + `"`}},
		{name: "two-words", queries: each(common, "%s "+veryCommon[0])},
		{name: "common+rare", queries: each(rare, common[0]+" %s")},
		{name: "common-page5", queries: common, page: 5},
		{name: "rare+in", queries: each(rare, in+" %s")},
		{name: "common+in", queries: each(common, in+" %s")},
		{name: "very-common+in", queries: each(veryCommon, in+" %s")},
		{name: "common+from", queries: each(common, from+" %s")},
		{name: "common+in+from", queries: each(common, in+" "+from+" %s")},
		{name: "very-common+in+from", queries: each(veryCommon, in+" "+from+" %s")},
		{name: "common+before", queries: each(common, "before:"+day(182)+" %s")},
		{name: "common+after", queries: each(common, "after:"+day(335)+" %s")},
		{name: "common+after+before", queries: each(common, "after:"+day(100)+" before:"+day(130)+" %s")},
		{name: "in-only", queries: []string{in, "in:" + h.channels[7].name}},
		{name: "from-only", queries: []string{from, "from:" + senderName(30)}},
		{name: "in+from-only", queries: []string{in + " " + from, in + " from:" + senderName(30)}},
		{name: "before-only", queries: []string{"before:" + day(182), "before:" + day(30)}},
		{name: "in-encrypted", queries: []string{"in:" + h.channels[benchChannels-2].name + " " + common[0]}},
	}
}
