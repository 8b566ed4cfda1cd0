package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

// staticBundle is the static files (static/: the script's ES modules and
// the style sheet), served under /static/{hash}/{name}. The hash names the
// content of the whole bundle rather than of each file: a module imports
// its neighbours by relative URL ("./api.js"), so every file of one
// version must share one prefix, and then any change must change it. Since
// a URL's bytes never change, browsers keep them for a year without asking
// again (immutable).
type staticBundle struct {
	hash  string
	files map[string]staticFile // by name under static/
	// modules are the modules main.js imports, directly or not, in the
	// order they are first reached; main.js itself is not among them.
	modules []string
}

// staticFile is one file of the bundle.
type staticFile struct {
	body        []byte
	contentType string
}

// staticEntry is the module the pages load; it imports the others.
const staticEntry = "main.js"

// staticImport matches a static import or re-export of a relative module:
// `import … from "./x.js";`, `import "./x.js";`, `export … from "./x.js";`.
// The modules are ours, written so: one statement per line. Type imports
// in JSDoc comments (import("./x.js")) load nothing and do not match.
var staticImport = regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^"'\n;]*?(?:\bfrom\s*)?["'](\./[^"']+)["']`)

// loadStatic reads the bundle from fsys (its static/ directory) and hashes
// it. It fails when a module imports a file the bundle does not have: the
// page would break in every browser.
func loadStatic(fsys fs.FS) (*staticBundle, error) {
	b := &staticBundle{files: map[string]staticFile{}}
	sum := sha256.New()
	// WalkDir goes in lexical order: the same files hash the same.
	err := fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		// The name is hashed too, so that a rename changes the version.
		sum.Write(fmt.Appendf(nil, "%s\x00%d\x00", name, len(body)))
		sum.Write(body)
		b.files[name] = staticFile{body: body, contentType: staticType(name)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	b.hash = hex.EncodeToString(sum.Sum(nil))[:12]
	if _, ok := b.files[staticEntry]; !ok {
		return nil, fmt.Errorf("static files: no %s", staticEntry)
	}
	if b.modules, err = b.imports(staticEntry); err != nil {
		return nil, err
	}
	return b, nil
}

// imports returns every module entry imports, directly or through others,
// each once, in the order first reached.
func (b *staticBundle) imports(entry string) ([]string, error) {
	seen := map[string]bool{entry: true}
	var order []string
	queue := []string{entry}
	for len(queue) > 0 {
		from := queue[0]
		queue = queue[1:]
		for _, m := range staticImport.FindAllStringSubmatch(string(b.files[from].body), -1) {
			name := path.Join(path.Dir(from), m[1])
			if _, ok := b.files[name]; !ok {
				return nil, fmt.Errorf("static files: %s imports %s, which does not exist", from, m[1])
			}
			if !seen[name] {
				seen[name] = true
				order = append(order, name)
				queue = append(queue, name)
			}
		}
	}
	return order, nil
}

// staticType is a file's Content-Type. Modules must be served as
// JavaScript, whatever the machine's MIME tables say: browsers refuse to
// run a module of another type (and nosniff forbids guessing); the same
// goes for the style sheet and the icon.
func staticType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// prefix is the path under which this version's files are served.
func (b *staticBundle) prefix() string { return "/static/" + b.hash }

// ServeHTTP serves GET /static/{hash}/{name}. Only this version's hash
// is served. Any other (a page of an older or newer release, as a rolling
// deploy behind a load balancer may ask of this node) is 404, never cached:
// a hashed URL promises its bytes, and answering it with another version's
// files, even by a redirect, would run one release's script over another
// release's markup. A page whose script does not load still works, as it
// does without JavaScript, and its next load asks again.
func (b *staticBundle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hash, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/static/"), "/")
	f, ok := b.files[name]
	if hash != b.hash || !ok {
		w.Header().Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+b.hash+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}

// handleStatic serves the embedded static files. It loads the bundle again
// rather than share the one parsePages loaded (routes.go asks for it
// without the server): the bundle is a function of the embedded bytes
// alone, so both agree on the hash, and NewServer has already failed if
// it would not load.
func (s *server) handleStatic() http.Handler {
	b, err := loadStatic(assets)
	if err != nil {
		panic(err) // parsePages loaded the same bundle first and would have failed
	}
	return b
}
