// Package gateway is the real-time WebSocket endpoint of a node (GET
// /api/v1/ws, API.md "Real-time"): it authenticates sockets, follows their
// users' memberships and sessions, fans channel events out to them in
// order, replays gaps on resume, and carries presence and typing.
//
// The gateway decides nothing about who may do what: every action goes to
// the chat or auth service with the socket's principal (Chat,
// Authenticator). Socket I/O is behind gateway/wsconn and the protocol's
// frames behind gateway/wire, so the I/O engine can be replaced without
// touching this package.
//
// # Data flow
//
// Each node subscribes once to the bus subjects of channel events, ephemeral
// frames, per-user control messages and presence. A channel with local
// subscribers has one state (sharded by channel ID, so fan-out on one
// channel never waits on another): an ordered stream, a ring of its most
// recent events (RingSize, default 1,024) and the set of local
// subscriptions. An event's frame bytes are produced once, by the service
// that stored it, and written as they are to every socket.
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
//     from the store page by page with the socket's own rights, and goes
//     live in the same critical section as its last replayed event, so no
//     live event can be lost or doubled at the hand-over.
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
//   - On the sending socket the ack of a send precedes the message echo:
//     that channel's events are held on that socket while its send is in
//     flight and released after the ack is queued.
//   - Membership: at hello a socket hears every channel of its user.
//     ControlSubscribe adds a channel from the joining seq on;
//     ControlUnsubscribe, or the user's own member_left event, whichever
//     arrives first, ends it after that member_left. Session revocations
//     close the affected sockets with 4001 at once; so does token expiry
//     unless an auth frame brought a fresh token of the same user.
//   - Presence and typing are ephemeral: never replayed, dropped with a
//     slow socket. Presence goes to sockets of users who share a channel.
//     A user's status on a node is dnd if any socket chose dnd, else online
//     if any socket is active, else away (chosen, or no frame for
//     IdleAway), and offline OfflineGrace after the last socket closes.
//     Across nodes the last published status wins: approximate when one
//     user is connected to several nodes at once.
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
//   - A client frame is handled on the socket's reading goroutine, so a
//     client that sends faster than it is served simply waits. RateMsg
//     (50/s) bounds frames per socket: an over-limit frame gets error
//     rate_limited; when refusals exceed the same rate (a sustained flood)
//     the socket is closed with 4008.
//   - New connections are limited per IP (RateIP, before authenticating)
//     and per user (RateUser); both complete the handshake and close with
//     4008, so a browser can tell why. A frame over MaxFrameBytes (64 KiB)
//     closes the socket with 1009; malformed, unknown and binary frames get
//     error invalid_argument (binary: close 1003). Each is counted in the
//     gateway_* metrics and touches no other socket.
//   - Keepalive: a ping every PingInterval; no pong within PongTimeout ends
//     the socket. Shutdown closes every socket with 1001.
//
// Lock order is in locksordering.txt.
package gateway
