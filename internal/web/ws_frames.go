package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/hub"
	"github.com/parleychat/parley/internal/wire"
)

// frameReader reads and carries out one connection's frames.
type frameReader struct {
	logger  *slog.Logger
	frames  frameHandler
	ws      *websocket.Conn
	sock    *socket
	timeout time.Duration
}

// run reads frames until the connection fails, the peer goes silent or
// ctx ends.
func (fr *frameReader) run(ctx context.Context, c *hub.Conn) {
	if g := fr.frames.session; g != nil {
		defer g.watch(ctx, c)()
	}
	fr.ws.SetReadLimit(maxFrame)
	// SetReadDeadline fails only on a closed connection, when reading
	// ends anyway.
	if fr.ws.SetReadDeadline(time.Now().Add(fr.timeout)) != nil {
		return
	}
	fr.ws.SetPongHandler(func(string) error {
		return fr.ws.SetReadDeadline(time.Now().Add(fr.timeout))
	})
	for {
		// Idle, the reader waits here, low on its stack, so that the
		// runtime can shrink the stack of a connection that sends nothing.
		if err := fr.sock.nc.awaitReadable(); err != nil {
			return
		}
		kind, data, err := fr.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				// The library has sent the 1009 close frame.
				fr.sock.markClosed()
				c.Close(websocket.CloseMessageTooBig, "frame too large")
			}
			return
		}
		if fr.ws.SetReadDeadline(time.Now().Add(fr.timeout)) != nil {
			return
		}
		if kind != websocket.TextMessage {
			fr.reply(ctx, c, errorFrame(chat.Errorf(chat.EINVALID, "frames must be text"), ""), nil, nil)
			continue
		}
		if !utf8.Valid(data) {
			// RFC 6455 §8.1: a text frame that is not valid UTF-8 fails
			// the connection, with 1007 (§7.4.1).
			c.Close(websocket.CloseInvalidFramePayloadData, "text frame is not valid UTF-8")
			return
		}
		if reply, cause := fr.frames.carryOut(ctx, c.ID, data); reply != nil {
			fr.reply(ctx, c, reply, cause, data)
		}
		if g := fr.frames.session; g != nil && g.isEnded() {
			c.Close(hub.CloseSessionEnded, "session ended")
			return
		}
	}
}

// command is a client frame that decoded and passed its checks.
type command struct {
	Type           string
	ConversationID chat.ConversationID
	ClientID       string
	Body           string
	Seq            int64
	Attachments    []chat.AttachmentID
}

// decodeCommand parses and checks one client frame. On error the command
// still carries the frame's client_id, when it had one, for the error frame.
func decodeCommand(data []byte) (command, error) {
	var f wire.ClientFrame
	if err := decodeObject(data, &f, "a frame"); err != nil {
		return command{}, err
	}
	cmd := command{Type: f.Type}
	if f.ClientID != nil {
		cmd.ClientID = *f.ClientID
	}
	switch f.Type {
	case wire.TypeSend, wire.TypeTyping, wire.TypeRead:
	case "":
		return cmd, chat.Errorf(chat.EINVALID, "frame has no type")
	default:
		return cmd, chat.Errorf(chat.EINVALID, "unknown frame type %q", f.Type)
	}
	if f.ConversationID == nil || *f.ConversationID <= 0 {
		return cmd, chat.Errorf(chat.EINVALID, "%s needs a positive conversation_id", f.Type)
	}
	cmd.ConversationID = chat.ConversationID(*f.ConversationID)
	switch {
	case f.Type == wire.TypeSend && f.Body == nil && len(f.AttachmentIDs) == 0:
		return cmd, chat.Errorf(chat.EINVALID, "send needs a body or attachment_ids")
	case f.Type == wire.TypeSend:
		if f.Body != nil {
			cmd.Body = *f.Body
		}
		cmd.Attachments = attachmentIDs(f.AttachmentIDs)
	case f.Type == wire.TypeRead && f.Seq == nil:
		return cmd, chat.Errorf(chat.EINVALID, "read needs a seq")
	case f.Type == wire.TypeRead:
		cmd.Seq = *f.Seq
	}
	return cmd, nil
}

// frameHandler carries out the frames of one user's connection.
type frameHandler struct {
	svc  *chat.Service
	user chat.UserID
	// session, when set, is checked before each frame is carried out.
	session *sessionGuard
}

// handle carries out one frame that arrived on connection conn and returns
// the frame to answer that connection with, or nil. Every failure is
// answered with an error frame; the connection stays open.
func (h frameHandler) handle(ctx context.Context, conn string, data []byte) any {
	reply, _ := h.carryOut(ctx, conn, data)
	return reply
}

// carryOut is handle that also returns, beside an error frame, the error it
// was made from: the cause to log when the frame says only "internal error".
func (h frameHandler) carryOut(ctx context.Context, conn string, data []byte) (reply any, cause error) {
	cmd, err := decodeCommand(data)
	if err != nil {
		return errorFrame(err, cmd.ClientID), err
	}
	if h.session != nil {
		// Nothing is carried out for a session that has ended; the
		// socket is closing with 4001.
		alive, err := h.session.active(ctx)
		if err == nil && !alive {
			err = chat.Errorf(chat.EUNAUTHORIZED, "session ended: sign in again")
		}
		if err != nil {
			return errorFrame(err, cmd.ClientID), err
		}
	}
	switch cmd.Type {
	case wire.TypeSend:
		m, _, err := h.svc.Send(ctx, h.user, chat.SendRequest{ConversationID: cmd.ConversationID, Body: cmd.Body, ClientID: cmd.ClientID, Attachments: cmd.Attachments, Conn: conn})
		if err != nil {
			return errorFrame(err, cmd.ClientID), err
		}
		return wire.AckFrame{Type: wire.TypeAck, ClientID: cmd.ClientID, Message: wireMessage(m)}, nil
	case wire.TypeTyping:
		err = h.svc.Typing(ctx, h.user, cmd.ConversationID)
	case wire.TypeRead:
		_, _, err = h.svc.MarkRead(ctx, h.user, cmd.ConversationID, cmd.Seq)
	}
	if err != nil {
		return errorFrame(err, ""), err
	}
	return nil, nil
}

func errorFrame(err error, clientID string) wire.ErrorFrame {
	return wire.ErrorFrame{
		Type:         wire.TypeError,
		Code:         chat.ErrorCode(err),
		Message:      chat.ErrorMessage(err),
		ClientID:     clientID,
		RetryAfterMS: retryAfterMS(chat.RetryAfter(err)),
	}
}

// retryAfterMS is d in whole milliseconds, rounded up, as the HTTP
// Retry-After header rounds up to whole seconds: a wait of any length above
// zero is at least 1, never 0 (which the frame would leave out).
func retryAfterMS(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// reply queues v, the reply to frame (the client's frame as it came, nil
// when it was not text), for this connection only. An internal error frame
// is logged with cause, the error it was made from (see carryOut): the peer
// sees only "internal error". A frame that failed only because the
// connection's ctx ended (the server closed the socket while frames were
// still buffered) is no internal failure, and is logged at debug level.
func (fr *frameReader) reply(ctx context.Context, c *hub.Conn, v any, cause error, frame []byte) {
	fr.logFailure(ctx, c.ID, v, cause, frame)
	b, err := json.Marshal(v)
	if err != nil {
		fr.logger.Error("encode frame", "err", err)
		return
	}
	c.Send(b)
}

// logFailure logs v, the reply to frame on connection conn, when it is an
// internal error frame: at error level with the frame's type and cause, or
// at debug level when cause is only ctx, the connection's context, having
// ended.
func (fr *frameReader) logFailure(ctx context.Context, conn string, v any, cause error, frame []byte) {
	e, ok := v.(wire.ErrorFrame)
	if !ok || e.Code != chat.EINTERNAL {
		return
	}
	typ := frameType(frame)
	if connEnded(ctx, cause) {
		fr.logger.Debug("websocket frame abandoned: connection closing", "user_id", fr.frames.user, "conn", conn, "frame_type", typ, "err", cause)
		return
	}
	fr.logger.Error("websocket frame failed", "user_id", fr.frames.user, "conn", conn, "frame_type", typ, "err", cause)
}

// frameType returns the type a client frame names, for the log: "" when
// it names none or does not decode. Only a frame that failed is decoded
// again for it.
func frameType(frame []byte) string {
	var f struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(frame, &f) != nil {
		return ""
	}
	return f.Type
}

// connEnded reports whether err is only ctx, the connection's context,
// having ended.
func connEnded(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
