import Testing
@testable import Reconcile

@Suite struct RedactionTests {
    @Test func aChangedSecretVariableIsShownAsChangedButNotPrinted() {
        var old = ContainerSpec(image: "sha256:a", imageReference: "x")
        old.environment = ["DB_PASSWORD": "hunter2-old", "LOG_LEVEL": "info", "api_token": "t0k-old"]
        var new = old
        new.environment = ["DB_PASSWORD": "hunter2-new", "LOG_LEVEL": "debug", "api_token": "t0k-new"]
        let lines = new.differences(from: old)
        let text = lines.joined(separator: "\n")
        #expect(lines.contains("environment.DB_PASSWORD: (redacted) → (redacted)"), "\(lines)")
        #expect(lines.contains(#"environment.LOG_LEVEL: "info" → "debug""#), "\(lines)")
        #expect(!text.contains("hunter2") && !text.contains("t0k"), "\(text)")
    }

    @Test func nameEqualsValueEntriesAreRedactedByName() {
        #expect(SecretRedaction.line("TaskTemplate.ContainerSpec.Env[0]", #""A_SECRET=xyz""#, nil)
                == #"TaskTemplate.ContainerSpec.Env[0]: "A_SECRET=(redacted)" → (unset)"#)
        #expect(SecretRedaction.line("TaskTemplate.ContainerSpec.Env[1]", #""MODE=fast""#, #""MODE=slow""#)
                == #"TaskTemplate.ContainerSpec.Env[1]: "MODE=fast" → "MODE=slow""#)
        #expect(!SecretRedaction.isSecretName("LOG_LEVEL"))
        #expect(SecretRedaction.isSecretName("GITHUB_TOKEN"))
    }
}

@Suite struct RedactionScopeTests {
    /// Only values of variables are secret: a secret's name, or a label, shows as it is.
    @Test func secretNamesAndOtherFieldsAreNotRedacted() {
        #expect(SecretRedaction.line("TaskTemplate.ContainerSpec.Secrets[0].SecretName", #""s_token_old""#, #""s_token_new""#)
                == #"TaskTemplate.ContainerSpec.Secrets[0].SecretName: "s_token_old" → "s_token_new""#)
        #expect(SecretRedaction.line("labels.auth", #""a""#, #""b""#) == #"labels.auth: "a" → "b""#)
    }
}
