package web

import "net/http"

// routes lists every route of the application, by area; each area's
// handlers live in the file named beside it.
func (s *server) routes(mux *http.ServeMux) {
	// Health (api_health.go): for load balancers and orchestrators.
	mux.Handle("GET /healthz", s.handleHealthz())
	mux.Handle("GET /readyz", s.handleReadyz())

	// Auth (api_auth.go).
	mux.Handle("POST /api/v1/auth/register", s.handleRegister())
	mux.Handle("POST /api/v1/auth/login", s.handleLogin())
	mux.Handle("POST /api/v1/auth/logout", s.handleLogout())
	mux.Handle("POST /api/v1/auth/logout-all", s.requireUser(s.handleLogoutAll()))

	// Users: one's own account and the people directory (api_users.go).
	mux.Handle("GET /api/v1/me", s.requireUser(s.handleMe()))
	mux.Handle("PATCH /api/v1/me", s.requireUser(s.handleUpdateMe()))
	mux.Handle("DELETE /api/v1/me", s.requireUser(s.handleCloseAccount()))
	mux.Handle("POST /api/v1/me/password", s.requireUser(s.handleChangePassword()))
	mux.Handle("GET /api/v1/users", s.requireUser(s.handleUsers()))

	// Conversations (api_conversations.go), their members
	// (api_members.go), their messages (api_messages.go) and search
	// (api_search.go).
	mux.Handle("POST /api/v1/conversations", s.requireUser(s.handleStartConversation()))
	mux.Handle("GET /api/v1/conversations", s.requireUser(s.handleConversations()))
	mux.Handle("GET /api/v1/conversations/{id}", s.requireUser(s.handleConversation()))
	mux.Handle("PATCH /api/v1/conversations/{id}", s.requireUser(s.handleRenameGroup()))
	mux.Handle("POST /api/v1/conversations/{id}/read", s.requireUser(s.handleRead()))
	mux.Handle("GET /api/v1/conversations/{id}/members", s.requireUser(s.handleMembers()))
	mux.Handle("POST /api/v1/conversations/{id}/members", s.requireUser(s.handleAddMember()))
	mux.Handle("PATCH /api/v1/conversations/{id}/members/{user_id}", s.requireUser(s.handleSetRole()))
	mux.Handle("DELETE /api/v1/conversations/{id}/members/{user_id}", s.requireUser(s.handleRemoveMember()))
	mux.Handle("GET /api/v1/conversations/{id}/messages", s.requireUser(s.handleMessages()))
	mux.Handle("POST /api/v1/conversations/{id}/messages", s.requireUser(s.handleSend()))
	mux.Handle("PATCH /api/v1/conversations/{id}/messages/{seq}", s.requireUser(s.handleEditMessage()))
	mux.Handle("DELETE /api/v1/conversations/{id}/messages/{seq}", s.requireUser(s.handleDeleteMessage()))
	mux.Handle("GET /api/v1/search", s.requireUser(s.handleSearch()))

	// Attachments: upload, then send by ID; download (api_attachments.go).
	mux.Handle("POST /api/v1/conversations/{id}/attachments", s.requireUser(s.handleUpload()))
	mux.Handle("GET /api/v1/conversations/{id}/attachments/{attachment_id}", s.requireUser(s.handleDownload(false)))
	mux.Handle("GET /api/v1/conversations/{id}/attachments/{attachment_id}/thumbnail", s.requireUser(s.handleDownload(true)))

	// Site administration (api_admin.go).
	mux.Handle("POST /api/v1/admin/invitations", s.requireUser(s.handleCreateInvitation()))
	mux.Handle("GET /api/v1/admin/invitations", s.requireUser(s.handleInvitations()))
	mux.Handle("DELETE /api/v1/admin/invitations/{id}", s.requireUser(s.handleRevokeInvitation()))
	mux.Handle("GET /api/v1/admin/users", s.requireUser(s.handleAccounts()))
	mux.Handle("POST /api/v1/admin/users/{id}/deactivate", s.requireUser(s.handleAccountChange(s.service.Deactivate)))
	mux.Handle("POST /api/v1/admin/users/{id}/reactivate", s.requireUser(s.handleAccountChange(s.service.Reactivate)))

	// WebSocket (ws.go, ws_frames.go, ws_socket.go).
	mux.Handle("GET /ws", s.handleWebSocket())

	// Pages, which work without JavaScript (page_*.go; views in pages.go).
	mux.Handle("GET /{$}", s.handleApp()) // page_app.go
	mux.Handle("GET /c/{id}", s.handleApp())
	mux.Handle("POST /c/{id}/messages", s.handleSendForm())
	mux.Handle("GET /login", s.handleFormPage("login", loginTitle)) // page_auth.go
	mux.Handle("POST /login", s.handleLoginForm())
	mux.Handle("GET /register", s.handleRegisterPage())
	mux.Handle("POST /register", s.handleRegisterForm())
	mux.Handle("POST /logout", s.handleLogoutForm())
	mux.Handle("GET /people", s.handlePeople()) // page_people.go
	mux.Handle("POST /people/{id}/message", s.handleMessageForm())
	mux.Handle("GET /search", s.handleSearchPage())       // page_search.go
	mux.Handle("GET /groups/new", s.handleGroupNewPage()) // page_group.go
	mux.Handle("GET /c/{id}/members", s.handleGroupMembersPage())
	mux.Handle("POST /groups", s.handleGroupCreateForm()) // page_group_forms.go
	mux.Handle("POST /c/{id}/title", s.handleGroupTitleForm())
	mux.Handle("POST /c/{id}/members", s.handleGroupAddForm())
	mux.Handle("POST /c/{id}/members/{user_id}/role", s.handleGroupRoleForm())
	mux.Handle("POST /c/{id}/members/{user_id}/remove", s.handleGroupRemoveForm())
	mux.Handle("POST /c/{id}/leave", s.handleGroupLeaveForm())
	mux.Handle("GET /settings", s.handleSettings()) // page_settings.go
	mux.Handle("POST /settings/name", s.handleNameForm())
	mux.Handle("POST /settings/password", s.handlePasswordForm())
	mux.Handle("POST /settings/logout-all", s.handleLogoutAllForm())
	mux.Handle("POST /settings/close", s.handleCloseForm())
	mux.Handle("GET /admin", s.handleAdminPage()) // page_admin.go
	mux.Handle("POST /admin/invitations", s.handleAdminInvitationForm())
	mux.Handle("POST /admin/invitations/{id}/revoke", s.handleAdminRevokeForm())
	mux.Handle("POST /admin/users/{id}/deactivate", s.handleAdminAccountForm(true))
	mux.Handle("POST /admin/users/{id}/reactivate", s.handleAdminAccountForm(false))
	mux.Handle("GET /static/", s.handleStatic()) // static.go

	// Anything else: 404, or 405 with Allow (unrouted.go).
	mux.Handle("/api/", s.handleUnrouted(mux))
	mux.Handle("/", s.handleUnrouted(mux))
}
