package chat_test

import (
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/gateway"
)

// The gateway consumes the chat service through gateway.Chat.
var _ gateway.Chat = (*chat.Service)(nil)
