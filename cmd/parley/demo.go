package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"

	"github.com/parleychat/parley/internal/chat"
)

// demoPeople are the accounts -demo makes.
var demoPeople = [...]struct{ username, displayName string }{
	{"ada", "Ada Lovelace"},
	{"grace", "Grace Hopper"},
	{"linus", "Linus Pauling"},
}

// demoTalk is the conversation -demo starts between the first two people.
var demoTalk = [...]struct {
	from int
	body string
}{
	{0, "Hi Grace! Have you tried Parley yet?"},
	{1, "Just logged in. Messages show up the moment you send them."},
	{0, "Open this conversation in two windows and start typing: the other side sees \"typing…\"."},
	{1, "And once you have read a message, the sender sees \"Seen\" under it."},
	{0, "Scroll up as far as you like: history loads as you go."},
}

// seedDemo makes the demo accounts, each with a fresh random password that
// it logs, and starts a conversation between them the first time.
func seedDemo(ctx context.Context, svc *chat.Service, logger *slog.Logger) error {
	users := make([]chat.User, len(demoPeople))
	for i, p := range demoPeople {
		password := rand.Text()[:16]
		// Made as an operator makes accounts, so that -demo works
		// whatever -registration says.
		u, err := svc.CreateAccount(ctx, chat.Registration{Username: p.username, Password: password, DisplayName: p.displayName}, false)
		if chat.ErrorCode(err) == chat.ECONFLICT {
			// The account exists from an earlier start: a new password.
			if u, err = svc.UserByUsername(ctx, p.username); err == nil {
				err = svc.SetPassword(ctx, u.ID, password)
			}
		}
		if err != nil {
			return fmt.Errorf("demo account %s: %w", p.username, err)
		}
		users[i] = u
		logger.Info("demo account", "username", p.username, "password", password)
	}
	conv, created, err := svc.StartDirect(ctx, users[0].ID, users[1].ID)
	if err != nil || !created {
		return err
	}
	for _, m := range demoTalk {
		if _, _, err := svc.Send(ctx, users[m.from].ID, chat.SendRequest{ConversationID: conv.ID, Body: m.body}); err != nil {
			return err
		}
	}
	if _, _, err := svc.StartDirect(ctx, users[2].ID, users[0].ID); err != nil {
		return err
	}
	return nil
}
