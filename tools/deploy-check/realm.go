package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
)

// A ${VAR:default} placeholder of the realm file, which Keycloak resolves at import.
var placeholder = regexp.MustCompile(`^\$\{([A-Z0-9_]+):(.*)\}$`)

type realmValue struct{ variable, def string }

type realmInfo struct {
	clientSecrets   map[string]realmValue // by clientId
	placeholderVars []string              // every placeholder variable but PRINTFLOW_CONSOLE_URL's users
}

func readRealm(path string) (*realmInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var realm struct {
		Clients []struct {
			ClientID string `json:"clientId"`
			Secret   string `json:"secret"`
		} `json:"clients"`
		Users []struct {
			Credentials []struct {
				Value string `json:"value"`
			} `json:"credentials"`
		} `json:"users"`
	}
	if err := json.Unmarshal(data, &realm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	info := &realmInfo{clientSecrets: map[string]realmValue{}}
	seen := map[string]bool{}
	add := func(s string) (realmValue, bool) {
		m := placeholder.FindStringSubmatch(s)
		if m == nil {
			return realmValue{}, false
		}
		if !seen[m[1]] {
			seen[m[1]] = true
			info.placeholderVars = append(info.placeholderVars, m[1])
		}
		return realmValue{variable: m[1], def: m[2]}, true
	}
	for _, c := range realm.Clients {
		if v, ok := add(c.Secret); ok {
			info.clientSecrets[c.ClientID] = v
		}
	}
	for _, u := range realm.Users {
		for _, c := range u.Credentials {
			add(c.Value)
		}
	}
	sort.Strings(info.placeholderVars)
	return info, nil
}
