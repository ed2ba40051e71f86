package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"

	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// hashConfig hashes a canonical JSON rendering of the evaluated hosts and resources, so the
// hash follows what the configuration means, not how it is written: comments, layout, file
// names and block order don't change it; any effective value does.
func hashConfig(c *Config) string {
	type hostJ struct {
		Name, Address, User, IdentityFile, KnownHosts, HostKeyPolicy, ConnectTimeout string
		Port                                                                         int
		Sudo                                                                         bool
		Labels                                                                       map[string]string
	}
	type resJ struct {
		Type, Name       string
		BodyType, Body   json.RawMessage
		Hosts, DependsOn []string
	}
	doc := struct {
		Format    string
		Hosts     []hostJ
		Resources []resJ
	}{Format: "sparkform-config-hash-v1"}
	for _, h := range c.Hosts {
		doc.Hosts = append(doc.Hosts, hostJ{
			Name: h.Name, Address: h.Address, User: h.User, IdentityFile: h.IdentityFile,
			KnownHosts: h.KnownHosts, HostKeyPolicy: h.HostKeyPolicy, ConnectTimeout: h.ConnectTimeout,
			Port: h.Port, Sudo: h.Sudo, Labels: h.Labels,
		})
	}
	sort.Slice(doc.Hosts, func(i, j int) bool { return doc.Hosts[i].Name < doc.Hosts[j].Name })
	for _, r := range c.Resources {
		ty, err := ctyjson.MarshalType(r.Body.Type())
		if err != nil {
			ty, _ = json.Marshal(err.Error())
		}
		body, err := ctyjson.Marshal(r.Body, r.Body.Type())
		if err != nil {
			body, _ = json.Marshal(err.Error())
		}
		doc.Resources = append(doc.Resources, resJ{Type: r.Type, Name: r.Name, BodyType: ty, Body: body, Hosts: r.Hosts, DependsOn: r.DependsOn})
	}
	sort.Slice(doc.Resources, func(i, j int) bool {
		a, b := doc.Resources[i], doc.Resources[j]
		return a.Type < b.Type || a.Type == b.Type && a.Name < b.Name
	})
	// encoding/json sorts map keys and cty's JSON sorts object attributes, so this is canonical.
	b, _ := json.Marshal(doc)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
