package web

import "net/http"

// routes lists every route of the application.
func (s *server) routes(mux *http.ServeMux) {
	mux.Handle("GET /{$}", handleApp(s))
	mux.Handle("GET /c/{id}", handleApp(s))
	mux.Handle("POST /c/{id}/messages", handleSendForm(s))
	mux.Handle("GET /people", handlePeople(s))
	mux.Handle("POST /people/{id}/message", handleMessageForm(s))
	mux.Handle("GET /login", handleFormPage(s, "login", loginTitle))
	mux.Handle("POST /login", handleLoginForm(s))
	mux.Handle("GET /register", handleFormPage(s, "register", registerTitle))
	mux.Handle("POST /register", handleRegisterForm(s))
	mux.Handle("POST /logout", handleLogoutForm(s))
	mux.Handle("GET /settings", handleSettings(s))
	mux.Handle("POST /settings/name", handleNameForm(s))
	mux.Handle("POST /settings/password", handlePasswordForm(s))
	mux.Handle("POST /settings/logout-all", handleLogoutAllForm(s))
	mux.Handle("POST /settings/close", handleCloseForm(s))
	mux.Handle("GET /static/", handleStatic())

	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(s.logger, s.readyChecks))

	mux.Handle("POST /api/v1/auth/register", handleRegister(s.logger, s.service, s.sessions))
	mux.Handle("POST /api/v1/auth/login", handleLogin(s.logger, s.service, s.sessions))
	mux.Handle("POST /api/v1/auth/logout", handleLogout(s.logger, s.service, s.sessions))
	mux.Handle("GET /api/v1/me", s.requireUser(handleMe(s.logger, s.service)))
	mux.Handle("PATCH /api/v1/me", s.requireUser(handleUpdateMe(s.logger, s.service)))
	mux.Handle("DELETE /api/v1/me", s.requireUser(handleCloseAccount(s.logger, s.service, s.sessions)))
	mux.Handle("POST /api/v1/me/password", s.requireUser(handleChangePassword(s.logger, s.service, s.sessions)))
	mux.Handle("POST /api/v1/auth/logout-all", s.requireUser(handleLogoutAll(s.logger, s.service, s.sessions)))
	mux.Handle("GET /api/v1/users", s.requireUser(handleUsers(s.logger, s.service)))
	mux.Handle("POST /api/v1/conversations", s.requireUser(handleStartConversation(s.logger, s.service)))
	mux.Handle("GET /api/v1/conversations", s.requireUser(handleConversations(s.logger, s.service)))
	mux.Handle("GET /api/v1/conversations/{id}", s.requireUser(handleConversation(s.logger, s.service)))
	mux.Handle("PATCH /api/v1/conversations/{id}", s.requireUser(handleRenameGroup(s.logger, s.service)))
	mux.Handle("GET /api/v1/conversations/{id}/members", s.requireUser(handleMembers(s.logger, s.service)))
	mux.Handle("POST /api/v1/conversations/{id}/members", s.requireUser(handleAddMember(s.logger, s.service)))
	mux.Handle("PATCH /api/v1/conversations/{id}/members/{user_id}", s.requireUser(handleSetRole(s.logger, s.service)))
	mux.Handle("DELETE /api/v1/conversations/{id}/members/{user_id}", s.requireUser(handleRemoveMember(s.logger, s.service)))
	mux.Handle("GET /api/v1/conversations/{id}/messages", s.requireUser(handleMessages(s.logger, s.service)))
	mux.Handle("POST /api/v1/conversations/{id}/messages", s.requireUser(handleSend(s.logger, s.service)))
	mux.Handle("POST /api/v1/conversations/{id}/read", s.requireUser(handleRead(s.logger, s.service)))

	mux.Handle("GET /ws", handleWebSocket(s.logger, s.service, s.sessions, s.hub, s.trustedOrigins, s.wsTimeout, s.maxConns))

	mux.Handle("/api/", handleUnrouted(s, mux))
	mux.Handle("/", handleUnrouted(s, mux))
}
