package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestNoInlineScript holds the templates to what the Content-Security-Policy
// allows: scripts only from files, no inline handlers, no javascript: URLs.
func TestNoInlineScript(t *testing.T) {
	inlineScript := regexp.MustCompile(`(?i)<script(?:[^>]*)>`)
	handler := regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	err := fs.WalkDir(assets, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(b)
		for _, tag := range inlineScript.FindAllString(src, -1) {
			if !strings.Contains(tag, "src=") {
				t.Errorf("%s: inline script %s", path, tag)
			}
		}
		if m := handler.FindString(src); m != "" {
			t.Errorf("%s: inline event handler %q", path, m)
		}
		if strings.Contains(strings.ToLower(src), "javascript:") {
			t.Errorf("%s: javascript: URL", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestScriptWritesTextOnly keeps user text out of HTML parsing in chat.js:
// no innerHTML, outerHTML, insertAdjacentHTML, document.write or eval.
func TestScriptWritesTextOnly(t *testing.T) {
	b, err := assets.ReadFile("static/chat.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(string(b), banned) {
			t.Errorf("chat.js uses %s", banned)
		}
	}
	if !strings.Contains(string(b), "createDocumentFragment") {
		t.Error("chat.js does not batch DOM updates through a DocumentFragment")
	}
}

func TestTemplatesParse(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "register", "app", "people"} {
		if p.sets[name] == nil {
			t.Errorf("no %s page", name)
		}
	}
	if len(p.version) != 12 {
		t.Errorf("static version %q", p.version)
	}
}
