package chat_test

import (
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/gateway"
)

// The gateway consumes the chat service through gateway.Chat (for a
// socket's user) and gateway.Events (for the node).
var (
	_ gateway.Chat   = (*chat.Service)(nil)
	_ gateway.Events = (*chat.Service)(nil)
)
