package chat

import "context"

// EventType names what an Event reports.
type EventType string

// Event types. Each becomes the WebSocket frame of the same name, except
// EventSessionEnded, which closes that session's connections.
const (
	EventMessage EventType = "message"
	// EventMessageUpdated: a message was edited or deleted. Message is it
	// as it is now (a deletion: the tombstone, body empty). It goes to
	// every member.
	EventMessageUpdated EventType = "message_updated"
	EventTyping         EventType = "typing"
	EventRead           EventType = "read"
	EventPresence       EventType = "presence"
	EventSessionEnded   EventType = "session_ended"
	// EventUser: a user changed their display name.
	EventUser EventType = "user"
	// EventMember: a group's membership changed. ConversationID, UserID
	// (the member), Role (their role now; for MemberRemoved, the role they
	// had) and Change say how. It goes to every member, the added or
	// removed one included.
	EventMember EventType = "member"
	// EventConversation: a group was created or renamed. Conversation is
	// the group as it is now (the fields every member shares: title,
	// member count, last seq; each member's own read cursor is not in it).
	// It goes to every member.
	EventConversation EventType = "conversation"
	// EventResync: events for To may have been lost (a publish the broker
	// did not take, a node's subscription broken and restored, a node
	// that died). Each connection of theirs gets a resync frame and
	// catches up from the store, as after a reconnect.
	EventResync EventType = "resync"
)

// MemberChange says what an EventMember reports.
type MemberChange string

// Member changes.
const (
	MemberAdded   MemberChange = "added"
	MemberRemoved MemberChange = "removed" // removed by an admin, or left
	MemberRole    MemberChange = "role"    // made admin or member
)

// Event is something that happened which connected users should see at
// once. Events travel through the Broker, so every node delivers them the
// same way whichever node they started on.
type Event struct {
	Type EventType `json:"type"`
	// To lists the users whose connections receive the event.
	To []UserID `json:"to"`
	// SkipConn is the ID of a connection that must not receive the event:
	// the one that sent the message, which gets an ack instead.
	SkipConn string `json:"skip_conn,omitempty"`

	Message        *Message       `json:"message,omitempty"`         // EventMessage, EventMessageUpdated
	ConversationID ConversationID `json:"conversation_id,omitempty"` // EventTyping, EventRead, EventMember
	UserID         UserID         `json:"user_id,omitempty"`         // who typed, read, came or went; EventMember: the member
	Seq            int64          `json:"seq,omitempty"`             // EventRead: the new read cursor
	Online         bool           `json:"online,omitempty"`          // EventPresence
	Session        string         `json:"session,omitempty"`         // EventSessionEnded: the session's ID
	User           *User          `json:"user,omitempty"`            // EventUser: the user as they are now
	Role           Role           `json:"role,omitempty"`            // EventMember: the member's role
	Change         MemberChange   `json:"change,omitempty"`          // EventMember
	Conversation   *Conversation  `json:"conversation,omitempty"`    // EventConversation: the group as it is now
}

// Delivery is an event as a node receives it: the event and those of its
// recipients that the node subscribed to.
type Delivery struct {
	Event Event
	Users []UserID
}

// Broker carries events to the nodes that hold the recipients'
// connections. Publishers never write to connections directly: they publish,
// and each node delivers what its broker hands back, so an in-process broker
// and a networked one behave the same. Every implementation passes the
// conformance suite in internal/brokertest.
type Broker interface {
	// Publish hands ev to every node subscribed to at least one of ev.To.
	// It keeps no reference to ev. It may block while a receiving node's
	// Deliveries channel is full, so nodes must drain it promptly.
	Publish(ctx context.Context, ev Event) error
	// Subscribe makes this node receive events for user, from when it
	// returns. Subscribing twice is the same as once.
	Subscribe(ctx context.Context, user UserID) error
	// Unsubscribe stops that. A delivery already under way may still name
	// the user.
	Unsubscribe(ctx context.Context, user UserID) error
	// Deliveries is where this node receives events, in the order they
	// were published: events published one after another (the second
	// Publish called after the first returned), from any nodes and for any
	// users, reach each node in that order. An event may arrive as one Delivery
	// naming several users, or as several naming one each; a user appears
	// at most once per Delivery. A broker may also hand this node an
	// EventResync that nobody published, naming those of its subscribed
	// users whose events it may have lost: the Redis broker does, after
	// its subscription connection is restored, for everything published
	// while it was down. The channel is never closed.
	Deliveries() <-chan Delivery
}

// BatchPublisher is a Broker that publishes several events in one go (the
// Redis broker: one pipeline, one round trip), in order, as if Publish were
// called for each in turn. An error means that any of them may have been
// lost. The Service publishes a group commit's messages with it when its
// broker has it.
type BatchPublisher interface {
	PublishAll(ctx context.Context, evs []Event) error
}

// Presence knows who is online: a user is online while at least one of
// their connections is open, on any node. Every implementation passes the
// conformance suite in internal/brokertest.
type Presence interface {
	// Connect records a new connection of user and reports whether the
	// user was offline before it.
	Connect(ctx context.Context, user UserID) (bool, error)
	// Disconnect records a closed connection of user and reports whether
	// it was the user's last. Without a matching Connect it changes nothing
	// and reports false.
	Disconnect(ctx context.Context, user UserID) (bool, error)
	// Online reports which of users are online.
	Online(ctx context.Context, users []UserID) (map[UserID]bool, error)
}
