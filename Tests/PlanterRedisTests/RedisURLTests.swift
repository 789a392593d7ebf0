import PlanterRedis
import Testing

@Suite struct RedisURLTests {
    @Test func readsHostPortPasswordAndDatabase() throws {
        #expect(try RedisURL.parse("redis://localhost") == RedisURL(host: "localhost"))
        #expect(try RedisURL.parse("redis://10.0.0.5:7000/3") == RedisURL(host: "10.0.0.5", port: 7000, database: 3))
        #expect(try RedisURL.parse("redis://:s%40cret@redis:6380/") == RedisURL(host: "redis", port: 6380, password: "s@cret"))
        #expect(try RedisURL.parse("redis://app:pw@[::1]:6390/1") == RedisURL(host: "::1", port: 6390, user: "app", password: "pw", database: 1))
        #expect(try RedisURL.parse("REDIS://h:1") == RedisURL(host: "h", port: 1))
    }

    @Test func refusesTLSWithTheReason() {
        let error = #expect(throws: RedisURL.ParseError.self) { try RedisURL.parse("rediss://:pw@cache:6380") }
        #expect(error?.description.contains("TLS") == true)
        #expect(error?.description.contains("hiredis 0.14") == true)
        #expect(error?.description.contains("pw") == false, "the password is not shown")
    }

    @Test(arguments: [
        ("http://localhost:6379", "must start with redis://"),
        ("redis://", "has no host"),
        ("redis://:6379", "has no host"),
        ("redis://host:0", "port \"0\""),
        ("redis://host:65536", "port \"65536\""),
        ("redis://host:abc", "port \"abc\""),
        ("redis://host/x", "database \"x\""),
        ("redis://host/99999999", "database \"99999999\""),
        ("redis://host?db=1", "query"),
        ("redis://:@host", "empty password"),
        ("redis://:p%zz@host", "%-escape"),
        ("redis://[::1", "closing ]"),
        ("redis://ho st", "invalid host"),
    ])
    func namesWhatIsWrong(text: String, problem: String) {
        let error = #expect(throws: RedisURL.ParseError.self) { try RedisURL.parse(text) }
        #expect(error?.description.contains(problem) == true, "\(text): \(error?.description ?? "no error")")
        #expect(error?.description.contains("REDIS_URL") == true)
    }

    @Test func descriptionHidesThePassword() throws {
        #expect(try RedisURL.parse("redis://:hunter2@h:1/2").description == "redis://:***@h:1/2")
    }
}
