package wire

import "time"

// Account is an account as site admins see it (GET /api/v1/admin/users).
type Account struct {
	User
	Admin       bool      `json:"admin"`
	Deactivated bool      `json:"deactivated"`
	CreatedAt   time.Time `json:"created_at"`
}

// AccountResponse answers a deactivation or reactivation.
type AccountResponse struct {
	User Account `json:"user"`
}

// AccountsResponse is a page of every account.
type AccountsResponse struct {
	Users []Account `json:"users"`
	// Next is the cursor of the following page (pass it as after), null on
	// the last page.
	Next *string `json:"next"`
}

// CreateInvitationRequest is the body of POST /api/v1/admin/invitations.
// ExpiresIn is in seconds (default 7 days, at most 365 days); MaxUses
// defaults to 1.
type CreateInvitationRequest struct {
	ExpiresIn int64 `json:"expires_in,omitempty"`
	MaxUses   int   `json:"max_uses,omitempty"`
}

// Invitation is an invitation. Token and URL are given once, when it is
// created; the server keeps only a hash of the token.
type Invitation struct {
	ID        int64      `json:"id"`
	Token     string     `json:"token,omitempty"`
	URL       string     `json:"url,omitempty"`
	CreatedBy *int64     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	MaxUses   int        `json:"max_uses"`
	Uses      int        `json:"uses"`
	RevokedAt *time.Time `json:"revoked_at"`
	// Usable: not expired, revoked or used up.
	Usable bool `json:"usable"`
}

// InvitationResponse answers the creation of an invitation.
type InvitationResponse struct {
	Invitation Invitation `json:"invitation"`
}

// InvitationsResponse is a page of invitations, oldest first.
type InvitationsResponse struct {
	Invitations []Invitation `json:"invitations"`
	// Next is the cursor of the following page (pass it as after), null on
	// the last page.
	Next *string `json:"next"`
}
