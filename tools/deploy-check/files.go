package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// runChartFiles: the chart reads config/ through links under files/ (.Files only reads inside
// the chart): every entry there must be a link that resolves inside the repository, and every
// path the templates name must exist.
func runChartFiles(args []string) int {
	if len(args) != 1 {
		usage()
	}
	chart := args[0]
	what := "chart-files " + chart
	r := &report{}
	repo, err := filepath.Abs(filepath.Join(chart, "..", "..", ".."))
	if err != nil {
		r.fail("%v", err)
		return r.finish(what)
	}
	repo, _ = filepath.EvalSymlinks(repo)
	entries, err := os.ReadDir(filepath.Join(chart, "files"))
	if err != nil {
		r.fail("%v", err)
		return r.finish(what)
	}
	for _, e := range entries {
		p := filepath.Join(chart, "files", e.Name())
		st, err := os.Lstat(p)
		if err != nil {
			r.fail("%v", err)
			continue
		}
		if st.Mode()&os.ModeSymlink == 0 {
			r.fail("%s is a copy, not a link: the chart must read the repository's own files", p)
			continue
		}
		target, err := filepath.EvalSymlinks(p)
		if err == nil {
			target, err = filepath.Abs(target)
		}
		if err != nil {
			r.fail("%s is a broken link: %v", p, err)
			continue
		}
		if rel, err := filepath.Rel(repo, target); err != nil || strings.HasPrefix(rel, "..") {
			r.fail("%s points outside the repository (%s)", p, target)
			continue
		}
		rel, _ := filepath.Rel(repo, target)
		r.note("files/%s -> %s", e.Name(), rel)
	}
	checkTemplateFiles(chart, r)
	return r.finish(what)
}

var filesRef = regexp.MustCompile(`\.Files\.(Get|Glob)\s+"([^"]+)"`)

func checkTemplateFiles(chart string, r *report) {
	var templates []string
	_ = filepath.WalkDir(filepath.Join(chart, "templates"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			templates = append(templates, p)
		}
		return nil
	})
	sort.Strings(templates)
	refs := 0
	for _, t := range templates {
		data, err := os.ReadFile(t)
		if err != nil {
			r.fail("%v", err)
			continue
		}
		for _, m := range filesRef.FindAllStringSubmatch(string(data), -1) {
			refs++
			path := filepath.Join(chart, m[2])
			if m[1] == "Get" {
				if st, err := os.Stat(path); err != nil || st.IsDir() {
					r.fail("%s reads %s, which does not exist", t, m[2])
				}
				continue
			}
			matches, err := filepath.Glob(path)
			if err != nil || len(matches) == 0 {
				r.fail("%s globs %s, which matches nothing", t, m[2])
			}
		}
	}
	r.note("%d .Files references in %d templates, every one present", refs, len(templates))
}

// parseDockerfile returns its stage names and the context paths its COPY/ADD instructions read
// (those without --from), with continuation lines joined.
func parseDockerfile(path string) (map[string]bool, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	stages := map[string]bool{}
	var sources []string
	var line strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(t, "#") && line.Len() == 0 {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			line.WriteString(strings.TrimSuffix(t, "\\") + " ")
			continue
		}
		line.WriteString(t)
		words := strings.Fields(line.String())
		line.Reset()
		if len(words) == 0 {
			continue
		}
		switch strings.ToUpper(words[0]) {
		case "FROM":
			if len(words) >= 4 && strings.EqualFold(words[2], "AS") {
				stages[words[3]] = true
			}
		case "COPY", "ADD":
			var args []string
			fromStage := false
			for _, w := range words[1:] {
				if strings.HasPrefix(w, "--from=") {
					fromStage = true
				}
				if !strings.HasPrefix(w, "--") {
					args = append(args, w)
				}
			}
			if !fromStage && len(args) >= 2 {
				sources = append(sources, args[:len(args)-1]...)
			}
		}
	}
	return stages, sources, sc.Err()
}

// runDockerfile: every file the Dockerfile copies from the context (the repository root)
// exists and is not excluded by the root's .dockerignore.
func runDockerfile(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: deploy-check dockerfile DOCKERFILE CONTEXT")
		os.Exit(2)
	}
	dockerfile, context := args[0], args[1]
	what := "dockerfile " + dockerfile
	r := &report{}
	stages, sources, err := parseDockerfile(dockerfile)
	if err != nil {
		r.fail("%v", err)
		return r.finish(what)
	}
	ignore, err := readDockerignore(filepath.Join(context, ".dockerignore"))
	if err != nil {
		r.fail("%v", err)
	}
	copied := 0
	for _, s := range sources {
		if s == "." {
			continue
		}
		copied++
		if _, err := os.Stat(filepath.Join(context, s)); err != nil {
			r.fail("COPY %s: not in the build context %s", s, context)
		}
		if ignored(ignore, s) {
			r.fail("COPY %s: excluded by %s/.dockerignore", s, context)
		}
	}
	var names []string
	for s := range stages {
		names = append(names, s)
	}
	sort.Strings(names)
	r.note("stages %s; %d context file(s) copied, present and not ignored", strings.Join(names, ", "), copied)
	return r.finish(what)
}

type ignoreRule struct {
	pattern string
	negate  bool
}

func readDockerignore(path string) ([]ignoreRule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rules []ignoreRule
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		neg := strings.HasPrefix(l, "!")
		rules = append(rules, ignoreRule{pattern: strings.Trim(strings.TrimPrefix(l, "!"), "/"), negate: neg})
	}
	return rules, nil
}

// ignored: Docker's rule, simplified: a pattern excludes a path when it matches the path or one
// of its parent folders; the last matching rule wins.
func ignored(rules []ignoreRule, path string) bool {
	path = filepath.Clean(path)
	out := false
	for _, rule := range rules {
		for p := path; p != "." && p != "/"; p = filepath.Dir(p) {
			if ok, _ := filepath.Match(rule.pattern, p); ok {
				out = !rule.negate
				break
			}
		}
	}
	return out
}
