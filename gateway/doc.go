// Package gateway is the real-time WebSocket endpoint of a node (GET
// /api/v1/ws, API.md "Real-time", docs/api.md): it authenticates sockets,
// follows their users' memberships and sessions, fans channel events out to
// them in order, replays gaps on resume, and carries presence and typing.
//
// The gateway decides nothing about who may do what: every action of a
// socket's user goes to the chat or auth service with the socket's
// principal (Chat, Authenticator). What a socket hears is bounded by its
// subscriptions, each of which the chat service created (the user's
// channels at hello, a ControlSubscribe) and ends (the user's own
// member_left, a ControlUnsubscribe). Socket I/O is behind gateway/wsconn
// and the protocol's frames are package wire, so the I/O engine can be
// replaced without touching this package.
//
// # Data flow
//
// Each node subscribes once to the bus subjects of channel events,
// ephemeral frames, per-user control messages and presence (wire's
// subjects). A channel event arrives as a wire.Event: the frame bytes,
// produced once by the service that stored the event and written as they
// are to every socket, with the metadata that routes it (channel, seq,
// message, member) beside them, so no frame is parsed on the way.
//
// The bus calls a subscription's handler from one goroutine. The handler of
// channel events and ephemeral frames only decodes the envelope and hands
// the event to one of FanoutWorkers goroutines, chosen by the channel's
// hash: one channel's events stay in order on one worker, different
// channels fan out side by side on every core, and a channel with
// thousands of sockets delays only the channels that share its worker. A
// channel with local subscribers has one state (sharded by channel ID): an
// ordered stream, a ring of its most recent events (RingSize, default
// 1,024) and the set of local subscriptions.
//
// The store is read for the node, not for a socket's user (Events): to
// fill a gap in a channel's stream and to catch a subscription up. Every
// page is read once for all the subscribers that need it at the same time
// (a node restart makes thousands of sockets resume from the same
// positions), and each subscriber takes from it only what its subscription
// allows.
//
// # Ordering and delivery guarantees
//
//   - Per channel and socket, events go out in strictly increasing seq order
//     with no gap and no repeat. The node's stream drops duplicates
//     (seq ≤ delivered), holds an event that arrives ahead of a gap for
//     GapHold (the bus gives no order across publishers) and then fills the
//     gap from the store; each subscription also remembers the last seq it
//     sent and sends nothing at or below it.
//   - A subscription that is behind the stream (new, resumed, held by a
//     send, or after the stream had to skip) catches up from the ring, or
//     from the store page by page, and goes live in the same critical
//     section as its last replayed event, so no live event can be lost or
//     doubled at the hand-over.
//   - A new channel state reads the store once after it exists before its
//     subscribers go live, so an event committed just before the node
//     started listening to that channel is never missed.
//   - Until a new socket's first client frame (or HoldTimeout, 2 s) its
//     channel events are held. A resume {positions} replays each named
//     channel from the client's seq, then sends resumed {channel_id, from,
//     to} (from exclusive, to inclusive), then live events. A gap larger
//     than MaxReplay (1,000 events: the replay guarantee) gets
//     resync_required instead, and the socket continues live from the
//     current seq. A resume never makes a socket repeat a seq it already
//     sent.
//   - A replay never carries content a message no longer has: an edit or
//     a delete arrives marked as superseding its message, and the ring
//     forgets every event up to the message's newest earlier one, so what
//     is replayed from further back comes from the store, which renders each
//     event with the message as it now is (a tombstone once deleted).
//   - On the sending socket the ack of a send precedes the message echo:
//     that channel's events are held on that socket while its send is in
//     flight and released after the ack is queued.
//   - Membership: at hello a socket hears every channel of its user.
//     ControlSubscribe adds a channel from the joining seq on;
//     ControlUnsubscribe, or the user's own member_left event, whichever
//     arrives first, ends it after that member_left (a subscription catching
//     up from the store gets its own member_left too). Session revocations
//     close the affected sockets with 4001 at once; so does token expiry
//     unless an auth frame brought a fresh token of the same user. An
//     admin's close (CloseConnection, CloseUserConnections) is 4010 and
//     revokes nothing: the client reconnects and resumes as after any drop.
//     It reaches the socket on whichever node holds it, and the admin's
//     list (Connections) covers every node: each node registered in the
//     shared KV answers over the bus within NodeTimeout, or is named as
//     not answering (nodes.go). A connect writes nothing for it.
//   - Presence and typing are ephemeral: never replayed, dropped with a
//     slow socket. A user's status on a node is dnd if any socket chose
//     dnd, else online if any socket is active, else away (chosen, or no
//     frame for IdleAway), and offline OfflineGrace after the last socket
//     closes; it is kept as counts per kind of socket, so no event looks at
//     every socket of a user who holds many, and published on the bus in
//     the order it was computed without a lock held across the
//     publication.
//   - Across nodes presence is shared (Config.Presence, a bus.KV): each
//     node keeps one entry per user with sockets on it, (user id, node
//     id) → its status and socket counts (ids and counts only), written
//     when they change and every TTL/3 (default TTL 30 s). What a node
//     publishes for a user is the merge over every node's entry (dnd >
//     online > away > offline), and Statuses (REST presence) answers the
//     same merge on any node. Two nodes changing one user's status within
//     the bus's delivery latency may each publish a merge without the
//     other's change; the next change, and Statuses at any time, give the
//     current merge.
//   - A node shutting down deletes its entries and publishes its users'
//     merge without it (offline unless they are connected elsewhere), so a
//     rolling restart shows its users offline until their clients
//     reconnect. A node that dies without a goodbye stops writing: its
//     entries expire after the TTL, and the next sweep (every TTL/3) of a
//     surviving node publishes those users' merge: they go offline within
//     TTL × 4/3 plus a presence batch. The sweep hands each expiry to one
//     node (Redis, in-process) or to every node (NATS): a repeated
//     announcement carries the same status.
//   - Presence goes to sockets of users who share a channel, batched: a
//     status change is added to each of the user's channels that has local
//     sockets (the user's channel list comes from a cache filled at hello or
//     on a miss and kept current by the membership control messages). A
//     channel sends its batch PresenceEvery (250 ms) after its first
//     pending change, plus PresenceEvery per PresenceChannelScale (500)
//     local subscribers, since a mass connect lasts about as long as the
//     channel is large; each socket then gets at most one presence frame
//     with every user whose status changed in any due channel it hears
//     (several frames past 1,000 users), encoded once for all the sockets
//     that hear the same channels. N members connecting together cost each
//     socket a number of frames that does not grow with N. A presence frame
//     is written after everything else queued for its socket, so a large
//     batch never delays a message (presence has no order with anything).
//   - To-device messages (Config.Inbox) go to the sockets whose access
//     token names their client install (client_id), at least once: live
//     when a ControlToDevice notice arrives (read by id once per node), and
//     replayed when a socket opens or an auth frame names another client,
//     a page at a time while fewer than 64 are unacknowledged on the socket
//     and within a quarter of its send queue's bytes. A socket never sends
//     an id twice before its acknowledgement; another socket or a
//     reconnect does, so clients drop repeats by id.
//
// # Back-pressure
//
//   - Every socket has a bounded send queue (QueueFrames, 256 frames, and
//     QueueBytes, 1 MiB). Queuing never blocks a fan-out: a socket whose
//     queue is full is closed with 4009 (too slow; reconnect and resume)
//     and everyone else goes on. A writer runs only while a queue is not
//     empty and takes everything queued in one batch (one system call with
//     either engine in wsconn); while it writes, up to one more queue can
//     build up.
//   - A fan-out worker's queue (FanoutQueue events) full makes the bus's
//     handler wait, which is the bus's own back-pressure: it buffers, then
//     drops, and the gateway repairs gaps from the store.
//   - A client frame is handled on the socket's reading goroutine, so a
//     client that sends faster than it is served simply waits. RateMsg
//     (50/s) bounds frames per socket: an over-limit frame gets error
//     rate_limited; when refusals exceed the same rate (a sustained flood)
//     the socket is closed with 4008.
//   - New connections are limited per IP (RateIP, before authenticating)
//     and per user (RateUser); both complete the handshake and close with
//     4008, so a browser can tell why. A user's open sockets across the
//     nodes are capped (MaxPerUser, counted from this node's memory and the
//     other nodes' presence entries): one more is refused with HTTP 429
//     before the upgrade. Best effort: nodes admitting one user's sockets
//     at the same moment see each other's as of their last entry, so the
//     cap can be exceeded by what the other nodes admitted meanwhile; if
//     the KV cannot be read, the cap counts this node's sockets only. A frame over MaxFrameBytes (64 KiB) closes the socket with
//     1009; malformed, unknown and binary frames get error invalid_argument
//     (binary: close 1003). Each is counted in the gateway_* metrics and
//     touches no other socket.
//   - Keepalive: a ping every PingInterval; no pong within PongTimeout ends
//     the socket. Shutdown closes every socket with 1001.
//
// Lock order is in locksordering.txt.
package gateway
