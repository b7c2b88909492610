package noex_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/noex-go/noex"
)

// A scenario is a conversation: each step sends a request and expects an
// answer by shape. In the expected JSON, the string "*" matches any value
// (generated ids, timestamps).
type step struct {
	send string
	want string
}

func runScenario(t *testing.T, c *client, steps []step) {
	t.Helper()
	for i, s := range steps {
		var req map[string]any
		if err := json.Unmarshal([]byte(s.send), &req); err != nil {
			t.Fatalf("step %d: bad request %s", i, s.send)
		}
		if _, ok := req["id"]; !ok {
			req["id"] = i + 1
		}
		got := c.request(req)
		var want any
		if err := json.Unmarshal([]byte(s.want), &want); err != nil {
			t.Fatalf("step %d: bad want %s", i, s.want)
		}
		delete(got, "id")
		if path, ok := shapeMatch(got, want, "$"); !ok {
			gb, _ := json.Marshal(got)
			t.Fatalf("step %d %s\n got: %s\nwant: %s\n(first difference at %s)", i, s.send, gb, s.want, path)
		}
	}
}

func shapeMatch(got, want any, path string) (string, bool) {
	if w, ok := want.(string); ok && w == "*" {
		return "", true
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return path, false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return path + "." + k, false
			}
			if p, ok := shapeMatch(gv, wv, path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path, false
		}
		for i := range w {
			if p, ok := shapeMatch(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	return path, string(gb) == string(wb)
}

const itemsDef = `{"key":"id","schema":{"id":{"type":"string","generated":"uuid"},"name":{"type":"string","required":true},"qty":{"type":"number","default":0,"min":0},"tag":{"type":"string"}},"indexes":["name"]}`

func TestStoreOperationsOverTheWire(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, nil)
	c, _ := dial(t, srv)
	meta := `"_version":1,"_createdAt":"*","_updatedAt":"*"`
	runScenario(t, c, []step{
		{`{"type":"store.defineBucket","name":"items","config":` + itemsDef + `}`, `{"type":"result","data":{"name":"items","created":true}}`},
		{`{"type":"store.defineBucket","name":"items","config":` + itemsDef + `}`, `{"type":"error","code":"ALREADY_EXISTS","message":"Bucket \"items\" already exists"}`},
		{`{"type":"store.insert","bucket":"items","data":{"id":"a","name":"apple","qty":3}}`, `{"type":"result","data":{"id":"a","name":"apple","qty":3,` + meta + `}}`},
		{`{"type":"store.insert","bucket":"items","data":{"id":"b","name":"banana"}}`, `{"type":"result","data":{"id":"b","name":"banana","qty":0,` + meta + `}}`},
		{`{"type":"store.insert","bucket":"items","data":{"name":"cherry","qty":5,"tag":"red"}}`, `{"type":"result","data":{"id":"*","name":"cherry","qty":5,"tag":"red",` + meta + `}}`},
		{`{"type":"store.insert","bucket":"items","data":{"id":"a","name":"again"}}`, `{"type":"error","code":"ALREADY_EXISTS","message":"Record with key \"a\" already exists in bucket \"items\"","details":{"bucket":"items","key":"a"}}`},
		{`{"type":"store.insert","bucket":"items","data":{"qty":-1}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Validation failed for bucket \"items\": name: Field is required; qty: Minimum value is 0","details":[{"field":"name","message":"Field is required","code":"required"},{"field":"qty","message":"Minimum value is 0","code":"min"}]}`},
		{`{"type":"store.get","bucket":"items","key":"a"}`, `{"type":"result","data":{"id":"a","name":"apple","qty":3,` + meta + `}}`},
		{`{"type":"store.get","bucket":"items","key":"zzz"}`, `{"type":"result","data":null}`},
		{`{"type":"store.update","bucket":"items","key":"a","data":{"qty":4,"_version":99,"id":"x"}}`, `{"type":"result","data":{"id":"a","name":"apple","qty":4,"_version":2,"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"store.update","bucket":"items","key":"nope","data":{"qty":1}}`, `{"type":"error","code":"NOT_FOUND","message":"Record with key \"nope\" not found in bucket \"items\""}`},
		{`{"type":"store.where","bucket":"items","filter":{"qty":{"$gte":4}}}`, `{"type":"result","data":[{"id":"a","name":"apple","qty":4,"_version":2,"_createdAt":"*","_updatedAt":"*"},{"id":"*","name":"cherry","qty":5,"tag":"red",` + meta + `}]}`},
		{`{"type":"store.where","bucket":"items","filter":{"name":"banana"}}`, `{"type":"result","data":[{"id":"b","name":"banana","qty":0,` + meta + `}]}`},
		{`{"type":"store.where","bucket":"items","filter":{"qty":{"$regex":"x"}}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"*"}`},
		{`{"type":"store.findOne","bucket":"items","filter":{"tag":"red"}}`, `{"type":"result","data":{"id":"*","name":"cherry","qty":5,"tag":"red",` + meta + `}}`},
		{`{"type":"store.findOne","bucket":"items","filter":{"tag":"blue"}}`, `{"type":"result","data":null}`},
		{`{"type":"store.count","bucket":"items"}`, `{"type":"result","data":3}`},
		{`{"type":"store.count","bucket":"items","filter":null}`, `{"type":"result","data":3}`},
		{`{"type":"store.count","bucket":"items","filter":{"qty":0}}`, `{"type":"result","data":1}`},
		{`{"type":"store.count","bucket":"items","filter":[1]}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Invalid \"filter\": expected object"}`},
		{`{"type":"store.sum","bucket":"items","field":"qty"}`, `{"type":"result","data":9}`},
		{`{"type":"store.avg","bucket":"items","field":"qty"}`, `{"type":"result","data":3}`},
		{`{"type":"store.min","bucket":"items","field":"qty","filter":{"qty":{"$gt":0}}}`, `{"type":"result","data":4}`},
		{`{"type":"store.max","bucket":"items","field":"tag"}`, `{"type":"result","data":null}`},
		{`{"type":"store.first","bucket":"items","n":1}`, `{"type":"result","data":[{"id":"a","name":"apple","qty":4,"_version":2,"_createdAt":"*","_updatedAt":"*"}]}`},
		{`{"type":"store.last","bucket":"items","n":2}`, `{"type":"result","data":[{"id":"b","name":"banana","qty":0,` + meta + `},{"id":"*","name":"cherry","qty":5,"tag":"red",` + meta + `}]}`},
		{`{"type":"store.first","bucket":"items","n":0}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"n\": expected positive integer"}`},
		{`{"type":"store.last","bucket":"items","n":1.5}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"n\": expected positive integer"}`},
		{`{"type":"store.paginate","bucket":"items","limit":2}`, `{"type":"result","data":{"records":[{"id":"a","name":"apple","qty":4,"_version":2,"_createdAt":"*","_updatedAt":"*"},{"id":"b","name":"banana","qty":0,` + meta + `}],"hasMore":true,"nextCursor":"b"}}`},
		{`{"type":"store.paginate","bucket":"items","limit":2,"after":null}`, `{"type":"result","data":{"records":"*","hasMore":true,"nextCursor":"b"}}`},
		{`{"type":"store.paginate","bucket":"items","limit":2,"after":"b"}`, `{"type":"result","data":{"records":[{"id":"*","name":"cherry","qty":5,"tag":"red",` + meta + `}],"hasMore":false,"nextCursor":"*"}}`},
		{`{"type":"store.paginate","bucket":"items","limit":2,"after":"gone"}`, `{"type":"result","data":{"records":[],"hasMore":false}}`},
		{`{"type":"store.delete","bucket":"items","key":"b"}`, `{"type":"result","data":{"deleted":true}}`},
		{`{"type":"store.delete","bucket":"items","key":"b"}`, `{"type":"result","data":{"deleted":true}}`},
		{`{"type":"store.get","bucket":"items","key":null}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing \"key\": expected non-null value"}`},
		{`{"type":"store.get","bucket":"nope","key":1}`, `{"type":"error","code":"BUCKET_NOT_DEFINED","message":"Bucket \"nope\" is not defined"}`},
		{`{"type":"store.insert","bucket":"","data":{}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"bucket\": expected non-empty string"}`},
		{`{"type":"store.insert","bucket":"items","data":[1]}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"data\": expected object"}`},
		{`{"type":"store.sum","bucket":"items"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"field\": expected non-empty string"}`},
		{`{"type":"store.buckets"}`, `{"type":"result","data":{"count":1,"names":["items"]}}`},
		{`{"type":"store.clear","bucket":"items"}`, `{"type":"result","data":{"cleared":true}}`},
		{`{"type":"store.count","bucket":"items"}`, `{"type":"result","data":0}`},
		{`{"type":"store.stats"}`, `{"type":"result","data":{"name":"store-1","buckets":{"count":1,"names":["items"]},"records":{"total":0,"perBucket":{"items":0}},"indexes":{"total":1,"perBucket":{"items":1}},"queries":{"defined":0,"activeSubscriptions":0},"persistence":{"enabled":false},"ttl":{"enabled":false,"checkIntervalMs":0}}}`},
		{`{"type":"store.nope"}`, `{"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown store operation \"store.nope\""}`},
	})
}

func TestBucketAdministrationOverTheWire(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, nil)
	c, _ := dial(t, srv)
	runScenario(t, c, []step{
		{`{"type":"store.defineBucket","name":"o","config":{"key":"nope","schema":{"id":{"type":"string"}}}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Key field \"nope\" does not exist in schema for bucket \"o\""}`},
		{`{"type":"store.defineBucket","name":"o","config":{"key":"id","schema":{"id":{"type":"string"}},"indexes":["x"]}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Index field \"x\" does not exist in schema for bucket \"o\""}`},
		{`{"type":"store.defineBucket","name":"o","config":{"key":"id","schema":{"id":{"type":"string"}},"ttl":"5w"}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"*"}`},
		{`{"type":"store.buckets"}`, `{"type":"result","data":{"count":0,"names":[]}}`},
		{`{"type":"store.defineBucket","name":"o"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"config\": expected object"}`},
		{`{"type":"store.defineBucket","config":{}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"name\": expected non-empty string"}`},
		{`{"type":"store.defineBucket","name":"o","config":{"key":"id","schema":{"id":{"type":"string"},"customer":{"type":"string","required":true}},"indexes":["customer"]}}`, `{"type":"result","data":{"name":"o","created":true}}`},
		{`{"type":"store.insert","bucket":"o","data":{"id":"1","customer":"x"}}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.updateBucket","name":"o","updates":{"addFields":{"note":{"type":"string"},"prio":{"type":"number","unique":true}},"addIndexes":["note"],"ttl":null}}`, `{"type":"result","data":{"name":"o","updated":true}}`},
		{`{"type":"store.updateBucket","name":"o","updates":{"addFields":{"note":{"type":"string"}}}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Field \"note\" already exists in bucket \"o\""}`},
		{`{"type":"store.updateBucket","name":"o","updates":{"addIndexes":["zzz"]}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Index field \"zzz\" does not exist in schema for bucket \"o\""}`},
		{`{"type":"store.updateBucket","name":"nope","updates":{}}`, `{"type":"error","code":"BUCKET_NOT_DEFINED","message":"Bucket \"nope\" is not defined"}`},
		{`{"type":"store.getBucketSchema","name":"o"}`, `{"type":"result","data":{"name":"o","config":{"key":"id","schema":{"id":{"type":"string"},"customer":{"type":"string","required":true},"note":{"type":"string"},"prio":{"type":"number","unique":true}},"indexes":["customer","note"]}}}`},
		{`{"type":"store.getBucketSchema","name":"nope"}`, `{"type":"error","code":"BUCKET_NOT_DEFINED","message":"Bucket \"nope\" does not exist"}`},
		// Existing records keep working after the update.
		{`{"type":"store.update","bucket":"o","key":"1","data":{"note":"n","prio":1}}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.insert","bucket":"o","data":{"id":"2","customer":"y","prio":1}}`, `{"type":"error","code":"ALREADY_EXISTS","message":"Unique constraint violation in bucket \"o\": field \"prio\" already has value \"1\"","details":{"bucket":"o","field":"prio","value":1}}`},
		{`{"type":"store.dropBucket","name":"o"}`, `{"type":"result","data":{"name":"o","dropped":true}}`},
		{`{"type":"store.dropBucket","name":"o"}`, `{"type":"error","code":"BUCKET_NOT_DEFINED","message":"Bucket \"o\" does not exist"}`},
		// A dropped name can be defined again at once, empty.
		{`{"type":"store.defineBucket","name":"o","config":{"key":"id","schema":{"id":{"type":"string"}}}}`, `{"type":"result","data":{"name":"o","created":true}}`},
		{`{"type":"store.count","bucket":"o"}`, `{"type":"result","data":0}`},
	})
}

func TestTransactionsOverTheWire(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, nil)
	c, _ := dial(t, srv)
	runScenario(t, c, []step{
		{`{"type":"store.defineBucket","name":"accounts","config":{"key":"id","schema":{"id":{"type":"string"},"credits":{"type":"number","min":0}}}}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.defineBucket","name":"ledger","config":{"key":"id","schema":{"id":{"type":"number","generated":"autoincrement"},"account":{"type":"string"},"delta":{"type":"number"}}}}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.insert","bucket":"accounts","data":{"id":"acc-1","credits":300}}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.transaction","operations":[
			{"op":"get","bucket":"accounts","key":"acc-1"},
			{"op":"update","bucket":"accounts","key":"acc-1","data":{"credits":400}},
			{"op":"insert","bucket":"ledger","data":{"account":"acc-1","delta":100}},
			{"op":"count","bucket":"ledger","filter":{"account":"acc-1"}},
			{"op":"where","bucket":"ledger","filter":{}},
			{"op":"findOne","bucket":"ledger","filter":{"delta":5}},
			{"op":"delete","bucket":"ledger","key":999}]}`,
			`{"type":"result","data":{"results":[
			{"index":0,"data":{"id":"acc-1","credits":300,"_version":1,"_createdAt":"*","_updatedAt":"*"}},
			{"index":1,"data":{"id":"acc-1","credits":400,"_version":2,"_createdAt":"*","_updatedAt":"*"}},
			{"index":2,"data":{"id":1,"account":"acc-1","delta":100,"_version":1,"_createdAt":"*","_updatedAt":"*"}},
			{"index":3,"data":1},
			{"index":4,"data":[{"id":1,"account":"acc-1","delta":100,"_version":1,"_createdAt":"*","_updatedAt":"*"}]},
			{"index":5,"data":null},
			{"index":6,"data":{"deleted":true}}]}}`},
		// One failing operation: nothing is written.
		{`{"type":"store.transaction","operations":[
			{"op":"insert","bucket":"ledger","data":{"account":"acc-1","delta":-500}},
			{"op":"update","bucket":"accounts","key":"acc-1","data":{"credits":-100}}]}`,
			`{"type":"error","code":"VALIDATION_ERROR","message":"Validation failed for bucket \"accounts\": credits: Minimum value is 0","details":"*"}`},
		{`{"type":"store.count","bucket":"ledger"}`, `{"type":"result","data":1}`},
		{`{"type":"store.transaction","operations":[{"op":"get","bucket":"nope","key":1}]}`, `{"type":"error","code":"BUCKET_NOT_DEFINED","message":"Bucket \"nope\" is not defined"}`},
		{`{"type":"store.transaction","operations":[{"op":"update","bucket":"accounts","key":"ghost","data":{}}]}`, `{"type":"error","code":"NOT_FOUND","message":"Record with key \"ghost\" not found in bucket \"accounts\""}`},
		{`{"type":"store.transaction"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"operations\": expected array"}`},
		{`{"type":"store.transaction","operations":[]}`, `{"type":"error","code":"VALIDATION_ERROR","message":"\"operations\" must contain at least one operation"}`},
		{`{"type":"store.transaction","operations":[5]}`, `{"type":"error","code":"VALIDATION_ERROR","message":"operations[0]: expected object"}`},
		{`{"type":"store.transaction","operations":[{"op":"get","bucket":"a","key":1},{"op":"upsert","bucket":"a"}]}`, `{"type":"error","code":"VALIDATION_ERROR","message":"operations[1]: invalid \"op\" — expected one of: get, insert, update, delete, where, findOne, count"}`},
		{`{"type":"store.transaction","operations":[{"op":"get","bucket":""}]}`, `{"type":"error","code":"VALIDATION_ERROR","message":"operations[0]: missing or invalid \"bucket\""}`},
		{`{"type":"store.transaction","operations":[{"op":"delete","bucket":"a"}]}`, `{"type":"error","code":"VALIDATION_ERROR","message":"operations[0]: \"delete\" requires \"key\""}`},
		{`{"type":"store.transaction","operations":[{"op":"insert","bucket":"a","data":null}]}`, `{"type":"error","code":"VALIDATION_ERROR","message":"operations[0]: \"insert\" requires \"data\" object"}`},
		{`{"type":"store.transaction","operations":[{"op":"where","bucket":"a"}]}`, `{"type":"error","code":"VALIDATION_ERROR","message":"operations[0]: \"where\" requires \"filter\" object"}`},
	})
}

// TestServerStatsIncludesStore checks the store object appears in
// server.stats once a store is mounted.
func TestServerStatsIncludesStore(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, func(c *noex.Config) { c.Name = "with-store" })
	c, _ := dial(t, srv)
	r := c.request(map[string]any{"id": 1, "type": "server.stats"})
	st, ok := r["data"].(map[string]any)["store"].(map[string]any)
	if !ok || st["name"] != "store-1" {
		t.Fatalf("server.stats store = %v", r)
	}
	if !strings.Contains(fmt.Sprint(st["buckets"]), "count:0") {
		t.Fatalf("buckets %v", st["buckets"])
	}
}
