package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

func TestDecodeObject(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // the error message; "" when it decodes
	}{
		{`{"body":"hello","client_id":"c-1"}`, ""},
		{` {"body":"hello"} ` + "\n", ""},
		{`{"\u0062ody":"an escaped key is the same key"}`, ""},
		{`{"body":"a","body":"b"}`, `duplicate key "body"`},
		{`{"body":"a","b\u006fdy":"b"}`, `duplicate key "body"`},
		{`{"body":"a","client_id":"x","client_id":"x"}`, `duplicate key "client_id"`},
		{`{"BODY":"x"}`, `unknown field "BODY"`},
		{`{"Body":"x"}`, `unknown field "Body"`},
		{`{"body":"a","Body":"b"}`, `unknown field "Body"`},
		{`{"body":"x","extra":1}`, `unknown field "extra"`},
		{`{"body":1}`, `field "body" must be a string`},
		{`{"client_id":["x"],"body":"x"}`, `field "client_id" must be a string`},
		{`{"body":"x"} {}`, `request body must hold one JSON object and nothing after it`},
		{`{"body":"x"}}`, `request body must hold one JSON object and nothing after it`},
		{"{\"body\":\"x\"}\x00", `request body must hold one JSON object and nothing after it`},
		{`{"body":"x"`, `malformed JSON: unexpected end`},
		{`{"body":"\ud800"}`, "malformed JSON at byte 9: invalid surrogate pair `\\ud800\"}` in string"},
		{`{"body":"x",}`, `malformed JSON at byte 11: invalid character ',' at start of value`},
		{"{\"body\":\"bad \xff\"}", `request body must be valid UTF-8`},
		{`null`, `request body must be a JSON object`},
		{`[{"body":"x"}]`, `request body must be a JSON object`},
		{``, `request body must be a JSON object`},
		{"\xef\xbb\xbf{}", `request body must be a JSON object`},
	} {
		var v wire.SendRequest
		err := decodeObject([]byte(tc.in), &v, "request body")
		if tc.want == "" {
			if err != nil {
				t.Errorf("decodeObject(%q) = %v", tc.in, err)
			}
			continue
		}
		if chat.ErrorCode(err) != chat.EINVALID || chat.ErrorMessage(err) != tc.want {
			t.Errorf("decodeObject(%q) = %v; want invalid %q", tc.in, err, tc.want)
		}
	}
}

func TestDecodeCommandStrict(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"type":"typing","type":"send","conversation_id":1,"body":"x"}`, `duplicate key "type"`},
		{`{"type":"send","conversation_id":1,"body":"a","body":"b"}`, `duplicate key "body"`},
		{`{"type":"send","conversation_id":1,"conversation_id":2,"body":"x"}`, `duplicate key "conversation_id"`},
		{`{"TYPE":"typing","conversation_id":1}`, `unknown field "TYPE"`},
		{`{"type":"typing","Conversation_ID":1}`, `unknown field "Conversation_ID"`},
		{`{"type":"read","conversation_id":1,"seq":1.5}`, `field "seq" must be an integer of at most 64 bits`},
	} {
		cmd, err := decodeCommand([]byte(tc.in))
		if chat.ErrorCode(err) != chat.EINVALID || chat.ErrorMessage(err) != tc.want {
			t.Errorf("decodeCommand(%q) = %+v, %v; want invalid %q", tc.in, cmd, err, tc.want)
		}
	}
}

func TestCheckQueryString(t *testing.T) {
	for _, ok := range []string{"", "q=ada", "q=&after=bob&limit=20", "q=%C3%A9t%C3%A9", "q=a+b", "q=%E2%80%8B", "q=%01"} {
		if err := checkQueryString(ok); err != nil {
			t.Errorf("checkQueryString(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"q=%00", "q=a%00b", "after=%00", "before=%FF", "q=%C3", "q=%ED%A0%80", "%00=x", "%FF", "q=%zz", "q=a;b", "limit=1&q=%00"} {
		if err := checkQueryString(bad); chat.ErrorCode(err) != chat.EINVALID || chat.ErrorMessage(err) == "" {
			t.Errorf("checkQueryString(%q) = %v; want invalid", bad, err)
		}
	}
}

// decodeObjectStd is decodeObject as it was on encoding/json, kept to
// measure the change against.
func decodeObjectStd(data []byte, v any) error {
	if !utf8.Valid(data) {
		return errors.New("invalid UTF-8")
	}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return errors.New("not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the object")
	}
	return nil
}

// BenchmarkDecodeObject compares decodeObject with the encoding/json
// decoder it replaced, on a typical send frame and register body.
func BenchmarkDecodeObject(b *testing.B) {
	frame := []byte(`{"type":"send","conversation_id":12345,"client_id":"c-5f2d8a1e-0007","body":"On my way, see you at the café in ten minutes 👋"}`)
	register := []byte(`{"username":"grace.hopper","password":"correct horse battery staple","display_name":"Grace Hopper"}`)
	b.Run("frame/go-json-experiment", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var f wire.ClientFrame
			if err := decodeObject(frame, &f, "a frame"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("frame/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var f wire.ClientFrame
			if err := decodeObjectStd(frame, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("register/go-json-experiment", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r wire.RegisterRequest
			if err := decodeObject(register, &r, "request body"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("register/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r wire.RegisterRequest
			if err := decodeObjectStd(register, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
