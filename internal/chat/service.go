package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Service carries out what users ask for, enforcing Parley's rules:
// validation, membership, idempotency and paging. Every transport (the JSON
// API, the WebSocket) goes through it, and it publishes what connected
// users must see to the Broker.
type Service struct {
	store    Store
	hasher   PasswordHasher
	broker   Broker
	presence Presence
	logger   *slog.Logger
	metrics  Metrics
	typing   *typingGate
	limits   Limits
	// outages gates the error lines about a dependency's failures that
	// are not outages: one per dependency per 10 s (see outage).
	outages *LogGate
	// publishing orders sends (and group changes) per conversation on this
	// node, so that their events are published in seq order. It is taken
	// with the caller's context (lockPublishing): a caller that would wait
	// past its deadline is refused instead.
	publishing keyedMutex[ConversationID]
	// sends is the group commit every send goes through.
	sends *groupCommit
	// resync holds the users whose events the broker refused after a
	// commit, until Run publishes their EventResync.
	resync *resyncSet
	// publishTimeout is ServiceConfig.PublishTimeout.
	publishTimeout time.Duration
	// groupCap is ServiceConfig.MaxGroupMembers.
	groupCap int
	// dummyHash is verified against when a login names an unknown user, so
	// that unknown and known usernames cost the same time.
	dummyHash string
	// registration is ServiceConfig.Registration.
	registration RegistrationMode
	// blobs and images are ServiceConfig's; nil takes no attachments.
	blobs  BlobStore
	images Images
	// maxUpload is ServiceConfig.MaxUpload.
	maxUpload int64
	// decodes holds a place per image being decoded (a semaphore of
	// ServiceConfig.MaxImageDecodes).
	decodes chan struct{}
	// sweep wakes RunAttachmentSweep (see sweepSoon).
	sweep chan struct{}
}

// ServiceConfig is what a Service is made of.
type ServiceConfig struct {
	Store    Store
	Hasher   PasswordHasher
	Broker   Broker
	Presence Presence
	Logger   *slog.Logger
	// TypingInterval is the least time between two typing events forwarded
	// for one user in one conversation; 0 means 2 seconds.
	TypingInterval time.Duration
	// Limits guard against abuse; a nil member does not limit.
	Limits Limits
	// MaxGroupMembers caps a group's members, its creator included; 0
	// means DefaultMaxGroupMembers.
	MaxGroupMembers int
	// MaxPendingResync bounds how many users may wait at once for the
	// resync Run publishes after the broker refused their events; 0
	// means DefaultMaxPendingResync.
	MaxPendingResync int
	// PublishTimeout bounds each publish of a committed change; past it
	// the recipients are owed a resync. 0 means DefaultPublishTimeout.
	PublishTimeout time.Duration
	// MaxBatch is how many sends one transaction stores at most (group
	// commit); 1 commits each send alone. 0 means DefaultMaxBatch.
	MaxBatch int
	// Registration says who may register (Register); "" means
	// RegistrationOpen.
	Registration RegistrationMode
	// Metrics hears what the service does (sends, commits, publishes,
	// refusals); nil reports nowhere.
	Metrics Metrics
	// Blobs holds the bytes of attachments and Images reads images; with
	// either nil the service takes no attachments.
	Blobs  BlobStore
	Images Images
	// MaxUpload is the largest file accepted, in bytes; 0 means
	// DefaultMaxUpload.
	MaxUpload int64
	// MaxImageDecodes is how many uploaded images may be decoded at once
	// for their thumbnails (each takes up to 4 bytes per pixel); 0 means
	// 2.
	MaxImageDecodes int
}

// Limits are the service's guards against abuse.
type Limits struct {
	// Messages is a bucket per user for sends, over every connection and
	// the HTTP API together.
	Messages Limiter
	// Typing is a bucket per user for typing events.
	Typing Limiter
	// Registrations is a bucket per client address for new accounts.
	// When it cannot answer, sign-ups are refused with EUNAVAILABLE.
	Registrations Limiter
	// Reads is a bucket per user for read cursors moved (read frames and
	// POST …/read).
	Reads Limiter
	// Conversations is a bucket per user for conversations started.
	Conversations Limiter
	// Lists is a bucket per user for people searches and conversation
	// list pages.
	Lists Limiter
	// Searches is a bucket per user for message searches.
	Searches Limiter
	// Uploads is a bucket per user for files uploaded.
	Uploads Limiter
	// UploadBytes is a bucket per user for the bytes of files uploaded,
	// a token a MiB (or part of one): its burst must hold the largest
	// file (ServiceConfig.MaxUpload).
	UploadBytes Limiter
	// Logins counts failed logins per account at an address, per address
	// and per account, by LoginPolicy. When it cannot answer, logins are
	// refused with EUNAVAILABLE.
	Logins Throttle
	// LoginPolicy is how Logins counts; the zero value means
	// DefaultLoginPolicy.
	LoginPolicy LoginPolicy
	// Local holds in-process limiters that answer for Messages, Typing,
	// Reads, Conversations, Lists and Searches when those (shared, in Redis) cannot:
	// the node's own budget, never none. A nil Local, or a nil limiter in
	// it, refuses such actions with EUNAVAILABLE while the shared one is
	// away.
	Local *Limits
}

// NewService returns a Service.
func NewService(cfg ServiceConfig) (*Service, error) {
	dummy, err := cfg.Hasher.Hash("parley dummy password for unknown users")
	if err != nil {
		return nil, fmt.Errorf("hash dummy password: %w", err)
	}
	if cfg.TypingInterval == 0 {
		cfg.TypingInterval = 2 * time.Second
	}
	if cfg.MaxPendingResync == 0 {
		cfg.MaxPendingResync = DefaultMaxPendingResync
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.MaxImageDecodes <= 0 {
		cfg.MaxImageDecodes = 2
	}
	s := &Service{
		store:    cfg.Store,
		hasher:   cfg.Hasher,
		broker:   meterBroker(cfg.Broker, cfg.Metrics),
		presence: cfg.Presence,
		logger:   cfg.Logger,
		metrics:  cfg.Metrics,
		typing:   newTypingGate(cfg.TypingInterval),
		limits:   cfg.Limits,
		groupCap: cfg.MaxGroupMembers,
		outages:  NewLogGate(10 * time.Second),
		resync:   newResyncSet(cfg.MaxPendingResync),
		// A publish after a commit holds the conversation's shared lock
		// and the batch after it: it is bounded, so an away broker
		// delays a send by this at most.
		publishTimeout: cfg.PublishTimeout,
		dummyHash:      dummy,
		blobs:          cfg.Blobs,
		images:         cfg.Images,
		maxUpload:      cfg.MaxUpload,
		decodes:        make(chan struct{}, cfg.MaxImageDecodes),
		sweep:          make(chan struct{}, 1),
		registration:   cfg.Registration,
	}
	s.sends = &groupCommit{max: cfg.MaxBatch, store: s.storeSends, publish: s.publishSends, metrics: cfg.Metrics}
	return s, nil
}

// hash hashes a password, giving up waiting for the hasher when ctx ends
// (see ContextHasher).
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	if h, ok := s.hasher.(ContextHasher); ok {
		return h.HashContext(ctx, password)
	}
	return s.hasher.Hash(password)
}

// verify checks a password against a hash, giving up waiting for the
// hasher when ctx ends (see ContextHasher).
func (s *Service) verify(ctx context.Context, hash, password string) (bool, error) {
	if h, ok := s.hasher.(ContextHasher); ok {
		return h.VerifyContext(ctx, hash, password)
	}
	return s.hasher.Verify(hash, password)
}

// outage logs msg, that dependency (the broker, presence, a limiter, the
// database) failed one call with err. When err is the dependency being out
// of reach (see Unreachable), the line is debug: the dependency's own
// outage log says so once per 10 s and once when it is back (see
// OutageLog), and every request met by the outage would otherwise log a
// line of its own. Anything else is an error, logged at most once per
// 10 s per dependency with the count of failures it stands for.
func (s *Service) outage(ctx context.Context, dependency, msg string, err error, args ...any) {
	args = append(args, "err", err)
	if Unreachable(ctx, err) {
		s.logger.DebugContext(ctx, msg, args...)
		return
	}
	if n, ok := s.outages.Allow(dependency); ok {
		s.logger.ErrorContext(ctx, msg, append(args, "failures", n)...)
	}
}

// Unreachable reports whether err, from a call made with ctx, is a
// dependency being out of reach rather than an answer it should not have
// given: EUNAVAILABLE (as the stores classify their errors), a network
// error, a deadline, a connection closed under the call; or the caller
// having gone. Such a failure is the dependency's outage log's to
// announce (see OutageLog); a caller logs it at debug level only.
func Unreachable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || ErrorCode(err) == EUNAVAILABLE {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// lockPublishing takes conv's publishing lock, waiting at most until ctx
// ends. A caller that gives up waiting (behind a commit that does not
// finish: a stalled database) is answered EUNAVAILABLE, as the store would
// have answered it, and holds nothing.
func (s *Service) lockPublishing(ctx context.Context, conv ConversationID) (unlock func(), err error) {
	unlock, err = s.publishing.LockContext(ctx, conv)
	if err != nil {
		return nil, Unavailable("the server", err)
	}
	return unlock, nil
}

// errBadLogin is the one answer to every failed login, whatever failed.
func errBadLogin() error {
	return Errorf(EUNAUTHORIZED, "invalid username or password")
}

// allow takes a token from a limiter, turning an empty bucket into an
// ERATELIMITED error. When the limiter cannot answer (its Redis is away),
// local answers instead (the node's own budget); with no local limiter the
// action is refused with EUNAVAILABLE. Either way the failure is logged
// as outage logs it. action (one of RateLimitActions) names the budget.
func (s *Service) allow(ctx context.Context, l, local Limiter, key, action string) error {
	return s.allowN(ctx, l, local, key, action, 1)
}

// allowN is allow for n tokens at once.
func (s *Service) allowN(ctx context.Context, l, local Limiter, key, action string, n int) error {
	if l == nil {
		return nil
	}
	ok, retry, err := l.AllowN(ctx, key, n)
	if err != nil {
		s.outage(ctx, "limiter", "rate limiter unavailable", err, "what", budgetName(action), "local_fallback", local != nil)
		if local == nil {
			return errUnavailable()
		}
		if ok, retry, err = local.AllowN(ctx, key, n); err != nil {
			return errUnavailable()
		}
	}
	if !ok {
		s.metrics.RateLimited(action)
		return &Error{Code: ERATELIMITED, Message: "too many " + budgetName(action) + ": slow down", RetryAfter: retry}
	}
	return nil
}

// refund gives back a token allow took from l, or from local while l
// cannot answer. A refund that fails is logged and forgotten: it costs
// the user one token, no more.
func (s *Service) refund(ctx context.Context, l, local Limiter, key, action string) {
	if l == nil {
		return
	}
	err := l.Refund(ctx, key)
	if err != nil && local != nil {
		err = local.Refund(ctx, key)
	}
	if err != nil {
		s.logger.WarnContext(ctx, "refund a rate-limit token", "action", action, "err", err)
	}
}

// errThrottled answers a login attempt that must wait. Its text is the same
// for every account and address.
func errThrottled(wait time.Duration) error {
	return &Error{Code: ERATELIMITED, Message: "too many failed attempts: try again later", RetryAfter: wait}
}

// local returns the in-process fallback limits (empty when there are
// none).
func (s *Service) local() Limits {
	if s.limits.Local == nil {
		return Limits{}
	}
	return *s.limits.Local
}

// loginPolicy returns the login throttle's policy.
func (s *Service) loginPolicy() LoginPolicy {
	if s.limits.LoginPolicy == (LoginPolicy{}) {
		return DefaultLoginPolicy()
	}
	return s.limits.LoginPolicy
}

// Login checks a username and password from the client address addr and
// returns the user. Every failure is the same EUNAUTHORIZED error after the
// same work. Before any hashing, an attempt reserves its place in the login
// throttle, atomically for all its keys: the account at this address (a few
// free failures, then growing waits), the address (a much larger budget)
// and, unless the account has signed in from this address before, the
// account (a budget reached only from many addresses; reaching it is
// logged as an attack). A refused attempt is ERATELIMITED without its
// password checked; a throttle that cannot answer refuses logins with
// EUNAVAILABLE. A success refunds its reservation, clears the account's
// count at this address and remembers the address as the owner's. A wrong
// password for an existing account is EUNAUTHORIZED returned with that
// account, so that the failure can be logged with its user ID: it is not a
// sign-in.
func (s *Service) Login(ctx context.Context, c Credentials) (User, error) {
	return s.LoginSession(ctx, c, nil)
}

// Credentials are what someone gives to log in, from the client address
// Addr (for the login throttle; the zero Addr is throttled by account
// only).
type Credentials struct {
	Username, Password string
	Addr               netip.Addr
}

// SessionStart makes the session a login signs into (a fresh token) and
// returns its key in the session store and its absolute deadline.
type SessionStart func(ctx context.Context) (key string, deadline time.Time, err error)

// LoginSession is Login that also binds the new session to the account,
// when start is not nil: once the password is found right, start makes the
// session, which is bound only if the account is still open and its
// password still the one checked (Store.StartSession). A password change or
// an account closure that commits while the login is under way therefore
// either finds the session bound and ends it, or makes the login fail as
// a wrong password does: no session outlives them.
func (s *Service) LoginSession(ctx context.Context, c Credentials, start SessionStart) (_ User, err error) {
	defer func() { s.countLogin(err) }()
	u, hash, err := s.login(ctx, c.Username, c.Password, c.Addr)
	if err != nil || start == nil {
		return u, err
	}
	key, deadline, err := start(ctx)
	if err != nil {
		return User{}, err
	}
	ok, err := s.store.StartSession(ctx, u.ID, key, deadline, hash)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return u, errBadLogin()
	}
	return u, nil
}

// login is Login, returning also the password hash that was checked.
func (s *Service) login(ctx context.Context, username, password string, addr netip.Addr) (User, string, error) {
	t := s.limits.Logins
	if t == nil {
		return s.checkPassword(ctx, username, password)
	}
	p := s.loginPolicy()
	account := loginKey(username)
	address := "-"
	if addr.IsValid() {
		address = AddressKey(addr)
	}
	pair := ThrottleKey{Key: "pair:" + account + "|" + address, Policy: p.Pair}
	keys := []ThrottleKey{pair}
	if addr.IsValid() {
		keys = append(keys, ThrottleKey{Key: address, Policy: p.Address})
	}
	known, err := t.Known(ctx, pair.Key)
	if err != nil {
		return User{}, "", s.throttleDown(ctx, err)
	}
	if !known {
		keys = append(keys, ThrottleKey{Key: "user:" + account, Policy: p.Account})
	}
	wait, by, err := t.Reserve(ctx, keys...)
	if err != nil {
		return User{}, "", s.throttleDown(ctx, err)
	}
	if wait > 0 {
		if by >= 0 && by < len(keys) && keys[by].Policy == p.Account && keys[by].Key == "user:"+account {
			s.logAttack(ctx, t, account, p.Account.Window)
		}
		return User{}, "", errThrottled(wait)
	}
	u, hash, err := s.checkPassword(ctx, username, password)
	if err != nil {
		if ErrorCode(err) != EUNAUTHORIZED {
			// Not a failure (an overloaded hasher, a store error): the
			// reservation goes back.
			if rerr := t.Refund(ctx, keys...); rerr != nil {
				s.outage(ctx, "throttle", "login throttle unavailable", rerr)
			}
		}
		return u, "", err
	}
	// A success was not a failure: its reservation goes back, the
	// account's count at this address is cleared, and the address is
	// remembered as one the owner uses.
	rerr := t.Refund(ctx, keys[1:]...)
	if rerr == nil {
		rerr = t.Reset(ctx, pair.Key)
	}
	if rerr == nil {
		_, rerr = t.Remember(ctx, pair.Key, p.KnownFor)
	}
	if rerr != nil {
		s.outage(ctx, "throttle", "login throttle unavailable", rerr)
	}
	return u, hash, nil
}

// throttleDown answers a login when the throttle cannot: EUNAVAILABLE,
// with the failure logged (see outage).
func (s *Service) throttleDown(ctx context.Context, err error) error {
	s.outage(ctx, "throttle", "login throttle unavailable: refusing logins", err)
	return errUnavailable()
}

// logAttack logs, once per window across the cluster, that an account's
// budget of failures from addresses it never signed in from is spent.
func (s *Service) logAttack(ctx context.Context, t Throttle, account string, window time.Duration) {
	slot := time.Now().UnixNano() / int64(max(window, time.Second))
	fresh, err := t.Remember(ctx, "attack:"+account+":"+strconv.FormatInt(slot, 10), window)
	if err == nil && fresh {
		s.logger.WarnContext(ctx, "login attack: account failure budget spent", "account", account, "window", window)
	}
}

// loginKey is the throttling key of a typed username: normalized when it is
// a valid name, so "Alice" and "alice" count together, and bounded in size
// when it is not.
func loginKey(username string) string {
	if name, err := NormalizeUsername(username); err == nil {
		return name
	}
	k := strings.ToLower(strings.TrimSpace(username))
	if len(k) > 64 {
		k = k[:64]
	}
	return "?" + k
}

// checkPassword verifies a password, doing the same hashing work whether or
// not the user exists, and returns the hash it was checked against.
func (s *Service) checkPassword(ctx context.Context, username, password string) (User, string, error) {
	if ValidatePassword(password) != nil {
		return User{}, "", errBadLogin()
	}
	name, err := NormalizeUsername(username)
	if err != nil {
		name = ""
	}
	var (
		u    User
		hash = s.dummyHash
	)
	if name != "" {
		found, h, err := s.store.UserCredentials(ctx, name)
		switch {
		case err == nil:
			u, hash = found, h
		case ErrorCode(err) != ENOTFOUND:
			return User{}, "", err
		}
	}
	ok, err := s.verify(ctx, hash, password)
	if err != nil {
		return User{}, "", fmt.Errorf("verify password: %w", err)
	}
	if !ok || u.ID == 0 {
		// The account, when there is one, goes with the error for the
		// log's sake; the caller answers as for an unknown name.
		return u, "", errBadLogin()
	}
	if u.Deactivated {
		// Said only to whoever knows the password.
		return u, "", Errorf(EFORBIDDEN, "this account is deactivated: ask an administrator")
	}
	return u, hash, nil
}

// SetPassword gives a user a new password.
func (s *Service) SetPassword(ctx context.Context, id UserID, password string) error {
	if err := ValidatePassword(password); err != nil {
		return err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return s.store.SetPasswordHash(ctx, id, hash)
}

// UserByUsername returns a user by username, in any letter case.
func (s *Service) UserByUsername(ctx context.Context, username string) (User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return User{}, NotFound("user")
	}
	u, _, err := s.store.UserCredentials(ctx, name)
	return u, err
}

// User returns a user by ID.
func (s *Service) User(ctx context.Context, id UserID) (User, error) {
	return s.store.UserByID(ctx, id)
}

// UserPage is a page of the people directory.
type UserPage struct {
	Users []User
	// Next is the cursor of the following page, "" on the last page.
	Next string
}

// UserSearch asks for a page of the people directory.
type UserSearch struct {
	// Query matches the start of a username or display name; "" matches
	// everyone.
	Query string
	// After is the previous page's Next; "" is the first page.
	After string
	// Limit is the most users on the page; 0 means DefaultUserPage.
	Limit int
}

// SearchUsers returns a page of the people directory as the caller sees it:
// everyone but the caller, matching q.Query, after q.After.
func (s *Service) SearchUsers(ctx context.Context, caller UserID, q UserSearch) (UserPage, error) {
	search, after := q.Query, q.After
	limit, err := pageLimit(q.Limit, DefaultUserPage)
	if err != nil {
		return UserPage{}, err
	}
	if err := s.allow(ctx, s.limits.Lists, s.local().Lists, userKey(caller), ActionList); err != nil {
		return UserPage{}, err
	}
	if len(search) > MaxDisplayName*4 {
		return UserPage{}, Errorf(EINVALID, "search is too long")
	}
	users, err := s.store.SearchUsers(ctx, UserQuery{Search: search, After: after, Exclude: caller, Limit: limit + 1})
	if err != nil {
		return UserPage{}, err
	}
	var page UserPage
	page.Users, page.Next = trimPage(users, limit, func(u User) string { return u.Username })
	return page, nil
}

// StartDirect returns the caller's direct conversation with another user,
// creating it on first use, and reports whether it was created.
func (s *Service) StartDirect(ctx context.Context, caller, other UserID) (Conversation, bool, error) {
	if other == caller {
		return Conversation{}, false, Errorf(EINVALID, "you cannot start a conversation with yourself")
	}
	if u, err := s.store.UserByID(ctx, other); err != nil {
		return Conversation{}, false, err
	} else if u.Closed {
		return Conversation{}, false, NotFound("user")
	}
	if err := s.allow(ctx, s.limits.Conversations, s.local().Conversations, userKey(caller), ActionConversation); err != nil {
		return Conversation{}, false, err
	}
	return s.store.DirectConversation(ctx, caller, other, Now())
}

// ConversationPage is a page of a user's conversation list.
type ConversationPage struct {
	Conversations []ConversationRow
	// Next is the cursor of the following page, "" on the last page.
	Next string
}

// ConversationPageQuery asks for a page of a user's conversation list.
type ConversationPageQuery struct {
	// Before is the previous page's Next; "" is the first page.
	Before string
	// Limit is the most rows on the page; 0 means DefaultConvPage.
	Limit int
}

// Conversations returns a page of the caller's conversations, newest
// activity first.
func (s *Service) Conversations(ctx context.Context, caller UserID, q ConversationPageQuery) (ConversationPage, error) {
	limit, err := pageLimit(q.Limit, DefaultConvPage)
	if err != nil {
		return ConversationPage{}, err
	}
	cursor, err := ParseConversationCursor(q.Before)
	if err != nil {
		return ConversationPage{}, err
	}
	if err := s.allow(ctx, s.limits.Lists, s.local().Lists, userKey(caller), ActionList); err != nil {
		return ConversationPage{}, err
	}
	rows, err := s.store.Conversations(ctx, ConversationQuery{UserID: caller, Before: cursor, Limit: limit + 1})
	if err != nil {
		return ConversationPage{}, err
	}
	var page ConversationPage
	page.Conversations, page.Next = trimPage(rows, limit, func(r ConversationRow) string {
		return ConversationCursor{ActivityAt: r.ActivityAt(), ID: r.ID}.String()
	})
	return page, nil
}

// Conversation returns one of the caller's conversations as their list
// shows it.
func (s *Service) Conversation(ctx context.Context, caller UserID, id ConversationID) (ConversationRow, error) {
	return s.store.Conversation(ctx, caller, id)
}

// SendRequest is a message a user sends.
type SendRequest struct {
	ConversationID ConversationID
	Body           string
	// ClientID, when set, makes the send idempotent.
	ClientID string
	// Attachments are files the caller uploaded to the conversation
	// (Upload) and has not sent yet, at most MaxAttachments; with them
	// Body may be empty.
	Attachments []AttachmentID
	// Conn is the ID of the sending connection, which gets an ack instead
	// of the message event; "" when the message came over HTTP.
	Conn string
}

// Send stores a message from the caller, publishes it to every member's
// connections but the sending one, and reports whether it is new. A retry
// with a client ID already used stores nothing and returns the first
// message unchanged, publishing it again (the first publish may have
// failed, or its node died before it): members drop the duplicate by
// conversation and seq. A publish the broker refuses does not fail the
// send, which is committed: the members are owed a resync (see Run). A
// send that waits for its conversation (behind another whose commit
// stalls) until ctx ends is refused with EUNAVAILABLE, storing nothing.
func (s *Service) Send(ctx context.Context, caller UserID, req SendRequest) (Message, bool, error) {
	if err := ValidateClientID(req.ClientID); err != nil {
		return Message{}, false, err
	}
	attachments, err := attachmentRefs(req.Attachments)
	if err != nil {
		return Message{}, false, err
	}
	body, err := NormalizeBody(req.Body)
	if err != nil && (len(attachments) == 0 || strings.TrimSpace(req.Body) != "") {
		return Message{}, false, err
	}
	// The message budget is charged first and the client ID is checked by
	// the batch, so that a send costs no look-up of its own. A resend of
	// a message already stored is answered even when the budget is spent:
	// an honest client retrying after a burst gets its message, not a
	// refusal. That answer is charged to the read budget instead, whose
	// burst holds a reconnecting client's whole outbox, so resends cannot
	// flood the store either. Someone no longer a member of the group gets
	// not_found, as for anything else there: their access ended with their
	// membership.
	if err := s.allow(ctx, s.limits.Messages, s.local().Messages, userKey(caller), ActionMessage); err != nil {
		if req.ClientID == "" || ErrorCode(err) != ERATELIMITED {
			return Message{}, false, err
		}
		m, ferr := s.store.MessageByClientID(ctx, caller, req.ClientID)
		if ferr != nil || m.ConversationID != req.ConversationID {
			return Message{}, false, err
		}
		if err := s.allow(ctx, s.limits.Reads, s.local().Reads, userKey(caller), ActionResend); err != nil {
			return Message{}, false, err
		}
		if err := s.publishAgain(ctx, caller, m, req.Conn); err != nil {
			return Message{}, false, err
		}
		return m, false, nil
	}
	// The send shares its conversation's lock with other sends, from
	// before its commit until its event is published, so that a group
	// change (which holds it alone) is not published between them. The
	// group commit orders the sends: they commit together, and are
	// published in seq order.
	release, err := s.publishing.RLockContext(ctx, req.ConversationID)
	if err != nil {
		return Message{}, false, Unavailable("the server", err)
	}
	r := s.sends.submit(ctx, &queuedSend{
		m: Message{
			ConversationID: req.ConversationID,
			SenderID:       caller,
			Body:           body,
			ClientID:       req.ClientID,
			CreatedAt:      Now(),
			Attachments:    attachments,
		},
		conn:    req.Conn,
		release: release,
	})
	if r.Err != nil {
		return Message{}, false, r.Err
	}
	st := r.Stored
	m := st.Message
	if !st.Changed {
		// A resend: the client ID was taken, before or by a send of the
		// same batch. It costs a read, not a message.
		s.refund(ctx, s.limits.Messages, s.local().Messages, userKey(caller), ActionMessage)
		if err := s.allow(ctx, s.limits.Reads, s.local().Reads, userKey(caller), ActionResend); err != nil {
			return Message{}, false, err
		}
		if err := s.publishAgain(ctx, caller, m, req.Conn); err != nil {
			return Message{}, false, err
		}
		return m, false, nil
	}
	s.metrics.MessageSent(transportOf(req))
	return m, true, nil
}

// storeSends is the group commit's first step: it stores a batch of sends
// in one transaction and returns what became of each. A store that panics
// or answers for fewer sends than the batch fails the whole batch
// (EINTERNAL), so that its senders are answered.
func (s *Service) storeSends(ctx context.Context, batch []*queuedSend) (results []SendResult) {
	fail := func(err error) []SendResult {
		rs := make([]SendResult, len(batch))
		for i := range rs {
			rs[i].Err = err
		}
		return rs
	}
	defer func() {
		if v := recover(); v != nil {
			s.logger.ErrorContext(ctx, "group commit panicked", "panic", v, "stack", string(debug.Stack()))
			results = fail(Errorf(EINTERNAL, "internal error"))
		}
	}()
	ms := make([]Message, len(batch))
	for i, q := range batch {
		ms[i] = q.m
	}
	results, err := s.store.CreateMessages(ctx, ms)
	if err == nil && len(results) != len(batch) {
		err = fmt.Errorf("store answered %d sends of a batch of %d", len(results), len(batch))
	}
	if err != nil {
		return fail(err)
	}
	return results
}

// publishSends is the group commit's second step: in the batch's order
// (seq order within each conversation) it publishes each stored message,
// then releases each send's hold on its conversation and answers it. The
// messages are committed: a failure to publish does not fail a send, its
// recipients (read by the commit's own transaction) are owed a resync
// instead. A panic while publishing answers the sends EINTERNAL all the
// same.
func (s *Service) publishSends(ctx context.Context, batch []*queuedSend, results []SendResult) {
	answered := 0
	defer func() {
		if v := recover(); v != nil {
			s.logger.ErrorContext(ctx, "group commit panicked", "panic", v, "stack", string(debug.Stack()))
			for _, q := range batch[answered:] {
				q.release()
				q.result <- SendResult{Err: Errorf(EINTERNAL, "internal error")}
			}
		}
	}()
	evs := make([]Event, 0, len(batch))
	for i, q := range batch {
		if r := results[i]; r.Err == nil && r.Stored.Changed {
			m := r.Stored.Message
			evs = append(evs, Event{Type: EventMessage, To: r.Stored.Recipients, SkipConn: q.conn, Message: &m})
		}
	}
	s.publishAllCommitted(ctx, evs)
	for i, q := range batch {
		q.release()
		q.result <- results[i]
		answered = i + 1
	}
}

// publishAllCommitted publishes a batch's stored messages in order, in one
// go when the broker is a BatchPublisher (as publishCommitted does each:
// within PublishTimeout, and when it fails their recipients are owed a
// resync), else one after the other.
func (s *Service) publishAllCommitted(ctx context.Context, evs []Event) {
	bp, ok := s.broker.(BatchPublisher)
	if !ok || len(evs) < 2 {
		for _, ev := range evs {
			s.publishCommitted(ctx, "publish message", ev, "conversation_id", ev.Message.ConversationID, "seq", ev.Message.Seq)
		}
		return
	}
	var to []UserID
	for _, ev := range evs {
		to = append(to, ev.To...)
	}
	if s.resync.holding() {
		s.resync.add(to)
		return
	}
	pctx, cancel := context.WithTimeout(ctx, s.publishTimeout)
	err := bp.PublishAll(pctx, evs)
	cancel()
	if err == nil {
		return
	}
	if ctx.Err() == nil {
		s.resync.fail()
	}
	s.owed(ctx, "publish messages", to, err, "messages", len(evs))
}

// publishAgain publishes m, a message caller sent before, to its
// conversation's members but the connection conn, for a resend answered
// from the store. It is ENOTFOUND when caller is no longer a member, and
// fails when the members cannot be read, so that the client sends again
// rather than take an ack that reached nobody; a publish the broker
// refuses makes the members owed a resync instead.
func (s *Service) publishAgain(ctx context.Context, caller UserID, m Message, conn string) error {
	members, err := s.memberIDs(ctx, caller, m.ConversationID)
	if err != nil {
		return err
	}
	s.publishCommitted(ctx, "publish message again", Event{Type: EventMessage, To: members, SkipConn: conn, Message: &m},
		"conversation_id", m.ConversationID, "seq", m.Seq)
	return nil
}

// Typing tells the conversation's other members that the caller is typing.
// It forwards at most one event per user and conversation per typing
// interval; the rest are dropped without error.
func (s *Service) Typing(ctx context.Context, caller UserID, conv ConversationID) error {
	if err := s.allow(ctx, s.limits.Typing, s.local().Typing, userKey(caller), ActionTyping); err != nil {
		return err
	}
	members, err := s.memberIDs(ctx, caller, conv)
	if err != nil {
		return err
	}
	if !s.typing.allow(caller, conv, time.Now()) {
		return nil
	}
	others := make([]UserID, 0, len(members)-1)
	for _, id := range members {
		if id != caller {
			others = append(others, id)
		}
	}
	// While the broker is failing, typing (gone in seconds anyway) is
	// dropped rather than waited on.
	if len(others) == 0 || s.resync.holding() {
		return nil
	}
	return s.broker.Publish(ctx, Event{Type: EventTyping, To: others, ConversationID: conv, UserID: caller})
}

// userKey is a user's key in a Limiter.
func userKey(id UserID) string {
	return "user:" + strconv.FormatInt(int64(id), 10)
}

// memberIDs returns a conversation's members, or ENOTFOUND when the caller
// is not one of them.
func (s *Service) memberIDs(ctx context.Context, caller UserID, conv ConversationID) ([]UserID, error) {
	members, err := s.store.Members(ctx, conv)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(members, caller) {
		return nil, NotFound("conversation")
	}
	return members, nil
}

// Messages returns a page of a conversation's history, ascending by seq, to
// a member of it; with q.ByVersion, the messages changed after
// q.AfterVersion, ascending by version. A ByVersion query with a seq
// cursor is EINVALID.
func (s *Service) Messages(ctx context.Context, caller UserID, conv ConversationID, q MessageQuery) (MessagePage, error) {
	limit, err := pageLimit(q.Limit, DefaultMsgPage)
	if err != nil {
		return MessagePage{}, err
	}
	switch {
	case q.ByVersion && (q.BeforeSeq != 0 || q.After):
		return MessagePage{}, Errorf(EINVALID, "give after_version alone, without before_seq or after_seq")
	case q.AfterVersion < 0:
		return MessagePage{}, Errorf(EINVALID, "after_version must not be negative")
	case q.BeforeSeq != 0 && q.After:
		return MessagePage{}, Errorf(EINVALID, "give before_seq or after_seq, not both")
	case q.BeforeSeq < 0 || q.AfterSeq < 0:
		return MessagePage{}, Errorf(EINVALID, "seq must not be negative")
	}
	if _, err := s.store.Member(ctx, conv, caller); err != nil {
		return MessagePage{}, err
	}
	if q.ByVersion {
		return s.messageChanges(ctx, conv, q, limit)
	}
	q.Limit = limit + 1
	msgs, err := s.store.Messages(ctx, conv, q)
	if err != nil {
		return MessagePage{}, err
	}
	page := MessagePage{HasMore: len(msgs) > limit}
	if page.HasMore {
		if q.After {
			msgs = msgs[:limit] // the extra one is the newest
		} else {
			msgs = msgs[1:] // the extra one is the oldest
		}
	}
	page.Messages = slices.Clip(msgs)
	return page, nil
}

// MarkRead moves the caller's read cursor forward to seq (clamped to the
// newest message) and returns the cursor and whether it moved. When it
// moved, every member's connections get a read receipt.
func (s *Service) MarkRead(ctx context.Context, caller UserID, conv ConversationID, seq int64) (int64, bool, error) {
	if seq < 0 {
		return 0, false, Errorf(EINVALID, "seq must not be negative")
	}
	if err := s.allow(ctx, s.limits.Reads, s.local().Reads, userKey(caller), ActionRead); err != nil {
		return 0, false, err
	}
	r, err := s.store.MarkRead(ctx, conv, caller, seq)
	if err != nil || !r.Moved {
		return r.Seq, r.Moved, err
	}
	s.publishCommitted(ctx, "publish read", Event{Type: EventRead, To: r.Recipients, ConversationID: conv, UserID: caller, Seq: r.Seq},
		"conversation_id", conv)
	return r.Seq, true, nil
}

// Connected records a new connection of user; when it is their first, the
// people who share a conversation with them see them come online.
func (s *Service) Connected(ctx context.Context, user UserID) error {
	first, err := s.presence.Connect(ctx, user)
	if err != nil || !first {
		return err
	}
	return s.publishPresence(ctx, user, true)
}

// Disconnected records a closed connection of user; when it was their
// last, the people who share a conversation with them see them go offline.
func (s *Service) Disconnected(ctx context.Context, user UserID) error {
	last, err := s.presence.Disconnect(ctx, user)
	if err != nil || !last {
		return err
	}
	return s.publishPresence(ctx, user, false)
}

func (s *Service) publishPresence(ctx context.Context, user UserID, online bool) error {
	contacts, err := s.store.Contacts(ctx, user)
	if err != nil || len(contacts) == 0 {
		return err
	}
	return s.broker.Publish(ctx, Event{Type: EventPresence, To: contacts, UserID: user, Online: online})
}

// Online reports which of users are online. When presence cannot answer
// (its Redis is away) everyone shows as offline rather than the lists
// failing.
func (s *Service) Online(ctx context.Context, users []UserID) (map[UserID]bool, error) {
	if len(users) == 0 {
		return map[UserID]bool{}, nil
	}
	online, err := s.presence.Online(ctx, users)
	if err != nil {
		s.outage(ctx, "presence", "presence unavailable", err)
		return map[UserID]bool{}, nil
	}
	return online, nil
}

// EndSession closes, on every node, the connections opened with the
// session of user that has the given ID (at logout).
func (s *Service) EndSession(ctx context.Context, user UserID, session string) error {
	return s.broker.Publish(ctx, Event{Type: EventSessionEnded, To: []UserID{user}, Session: session})
}

// BindSession records that the session stored under key belongs to user
// until deadline, at sign-in, so that ending all of the user's sessions
// finds it.
func (s *Service) BindSession(ctx context.Context, user UserID, key string, deadline time.Time) error {
	return s.store.BindSession(ctx, user, key, deadline)
}

// TouchSession reports whether the session stored under key is alive and
// returns its expiry, moved to expiry first when that is later (a socket's
// activity keeps its session from going idle).
func (s *Service) TouchSession(ctx context.Context, key string, expiry time.Time) (time.Time, bool, error) {
	return s.store.TouchSession(ctx, key, expiry)
}

// EndSessions ends every session of user but the one stored under except
// ("" for none), and closes their connections on every node.
func (s *Service) EndSessions(ctx context.Context, user UserID, except string) error {
	keys, err := s.store.EndSessions(ctx, user, except)
	if err != nil {
		return err
	}
	s.endSessions(ctx, user, keys)
	return nil
}

// endSessions closes, on every node, the connections of user's sessions
// stored under keys, which the store has ended.
func (s *Service) endSessions(ctx context.Context, user UserID, keys []string) {
	for _, k := range keys {
		if err := s.EndSession(ctx, user, k); err != nil {
			// The session is gone from the store: its sockets find out
			// at their next check.
			s.outage(ctx, "broker", "publish session ended", err, "user_id", user)
		}
	}
}

// errWrongPassword answers a password check, other than a login's, that
// failed.
func errWrongPassword() error {
	return Errorf(EUNAUTHORIZED, "the current password is wrong")
}

// CheckPassword verifies the password of a signed-in user, through the
// bounded hasher (a check that finds no room is refused with EUNAVAILABLE,
// as a login is) and the login throttle: each check reserves a place under
// the account's own key with the per-account-at-an-address policy (a few
// free failures, then growing waits), so a stolen session cannot try
// passwords faster than a login could. A success or a check that was not
// a failure gives its place back.
func (s *Service) CheckPassword(ctx context.Context, id UserID, password string) error {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return err
	}
	t := s.limits.Logins
	if t == nil {
		return s.verifyPassword(ctx, u, password)
	}
	key := ThrottleKey{Key: "password:" + u.Username, Policy: s.loginPolicy().Pair}
	wait, _, err := t.Reserve(ctx, key)
	if err != nil {
		return s.throttleDown(ctx, err)
	}
	if wait > 0 {
		return errThrottled(wait)
	}
	err = s.verifyPassword(ctx, u, password)
	if ErrorCode(err) != EUNAUTHORIZED {
		if rerr := t.Refund(ctx, key); rerr != nil {
			s.outage(ctx, "throttle", "login throttle unavailable", rerr)
		}
	}
	return err
}

// verifyPassword checks u's password with the hasher.
func (s *Service) verifyPassword(ctx context.Context, u User, password string) error {
	if ValidatePassword(password) != nil {
		return errWrongPassword()
	}
	_, hash, err := s.store.UserCredentials(ctx, u.Username)
	if err != nil {
		return err
	}
	ok, err := s.verify(ctx, hash, password)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		return errWrongPassword()
	}
	return nil
}

// ChangePassword replaces a signed-in user's password after checking the
// current one. Ending their other sessions is the caller's part: it knows
// which session is this one.
func (s *Service) ChangePassword(ctx context.Context, id UserID, current, next string) error {
	// The new password is checked first: an overlong one must cost
	// nothing before it is refused.
	if err := ValidatePassword(next); err != nil {
		return err
	}
	if err := s.CheckPassword(ctx, id, current); err != nil {
		return err
	}
	return s.SetPassword(ctx, id, next)
}

// SetDisplayName changes a user's display name, by the rules of
// registration (empty means the username), and shows the change to the
// user's own connections and to everyone sharing a conversation with them.
func (s *Service) SetDisplayName(ctx context.Context, id UserID, displayName string) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return User{}, err
	}
	if displayName == "" {
		displayName = u.Username
	}
	display, err := NormalizeDisplayName(displayName)
	if err != nil {
		return User{}, err
	}
	u, contacts, err := s.store.SetDisplayName(ctx, id, display)
	if err != nil {
		return User{}, err
	}
	s.publishUser(ctx, u, contacts)
	return u, nil
}

// publishUser shows u as they are now to their own connections and to
// contacts, the users the change's own transaction found sharing a
// conversation with them.
func (s *Service) publishUser(ctx context.Context, u User, contacts []UserID) {
	to := append(slices.Clone(contacts), u.ID)
	slices.Sort(to)
	to = slices.Compact(to)
	s.publishCommitted(ctx, "publish user", Event{Type: EventUser, To: to, UserID: u.ID, User: &u}, "user_id", u.ID)
}

// CloseAccount closes a signed-in user's account after checking their
// password (as CheckPassword does, throttled): every session of theirs
// ends and its connections close on every node, they leave the people
// directory and can no longer sign in, their username stays taken, and
// their messages stay in history under ClosedDisplayName, which everyone
// sharing a conversation with them sees at once (a user event). They leave
// every group they were in, as RemoveMember does for a member leaving:
// each group gets its SystemLeft message and an EventMember
// (MemberRemoved), and one whose last admin they were its promoted admin.
func (s *Service) CloseAccount(ctx context.Context, id UserID, password string) error {
	if err := s.CheckPassword(ctx, id, password); err != nil {
		return err
	}
	closed, err := s.store.CloseUser(ctx, id, Now())
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "account closed", "user_id", id, "groups_left", len(closed.Groups))
	s.endSessions(ctx, id, closed.Sessions)
	for _, ch := range closed.Groups {
		unlock, err := s.lockPublishing(ctx, ch.Conversation.ID)
		if err != nil {
			// The caller gave up; the closure is committed all the same.
			s.owed(ctx, "publish member removed", append(slices.Clone(ch.Members), id), err, "conversation_id", ch.Conversation.ID)
			continue
		}
		s.publishRemoval(ctx, ch, id)
		unlock()
	}
	// The groups' members no longer share a conversation with the user,
	// but still see their name in the history: Contacts, read before the
	// groups were left, has them.
	s.publishUser(ctx, closed.User, closed.Contacts)
	return nil
}
