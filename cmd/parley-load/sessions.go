package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"

	"github.com/parleychat/parley/internal/wire"
)

// savedSession is a user's session cookies, kept in the -sessions file so
// that a later run (an idle run measuring memory, say) signs in without
// any password hashing on the server.
type savedSession struct {
	ID      int64             `json:"id"`
	Cookies map[string]string `json:"cookies"`
}

// loadSessions reads the sessions file; a missing file is empty.
func loadSessions(path string) (map[string]savedSession, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]savedSession{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]savedSession{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// saveSessions writes the users' session cookies to path, keeping the
// entries of other users already there.
func (l *loader) saveSessions(path string, saved map[string]savedSession) error {
	for _, u := range l.users {
		s := savedSession{ID: u.id, Cookies: map[string]string{}}
		for _, c := range u.jar.Cookies(u.base) {
			s.Cookies[c.Name] = c.Value
		}
		saved[u.name] = s
	}
	data, err := json.MarshalIndent(saved, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// resume puts a saved session in u's jar and checks it with GET /me.
// False means it is no longer valid (sign in instead).
func (l *loader) resume(ctx context.Context, u *user, s savedSession) (bool, error) {
	var cookies []*http.Cookie
	for name, value := range s.Cookies {
		cookies = append(cookies, &http.Cookie{Name: name, Value: value, Path: "/"})
	}
	if len(cookies) == 0 {
		return false, nil
	}
	u.jar.SetCookies(u.base, cookies)
	var me wire.UserResponse
	err := l.api.do(ctx, u, http.MethodGet, "/api/v1/me", nil, &me, http.StatusUnauthorized)
	if statusOf(err) == http.StatusUnauthorized {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if me.User.Username != u.name {
		return false, nil
	}
	u.id = me.User.ID
	return true, nil
}
