package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestNoInlineScript holds the templates to what the Content-Security-Policy
// allows: scripts only from files, no inline handlers, no javascript: URLs.
// A JSON data block (type="application/json") is not script: it never
// runs, and the CSP does not apply to it.
func TestNoInlineScript(t *testing.T) {
	inlineScript := regexp.MustCompile(`(?i)<script(?:[^>]*)>`)
	dataBlock := regexp.MustCompile(`(?i)^<script type="application/json" id="[a-z-]+">$`)
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
			if !strings.Contains(tag, "src=") && !dataBlock.MatchString(tag) {
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

// TestScriptWritesTextOnly keeps user text out of HTML parsing in every
// module: no innerHTML, outerHTML, insertAdjacentHTML, document.write or
// eval; and DOM updates are batched through a DocumentFragment.
func TestScriptWritesTextOnly(t *testing.T) {
	modules, err := fs.Glob(assets, "static/*.js")
	if err != nil || len(modules) == 0 {
		t.Fatalf("no modules: %v", err)
	}
	fragment := false
	for _, name := range modules {
		b, err := assets.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(string(b), banned) {
				t.Errorf("%s uses %s", name, banned)
			}
		}
		fragment = fragment || strings.Contains(string(b), "createDocumentFragment")
	}
	if !fragment {
		t.Error("no module batches DOM updates through a DocumentFragment")
	}
}

func TestTemplatesParse(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "register", "app", "people", "settings"} {
		if p.sets[name] == nil {
			t.Errorf("no %s page", name)
		}
	}
	if len(p.static.hash) != 12 {
		t.Errorf("static version %q", p.static.hash)
	}
}
