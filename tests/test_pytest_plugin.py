"""The pytest plugin, exercised as a user's test suite would be (through pytester)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

HELLO_TEST = '''
def test_scripted_reply(emulator):
    emulator.add(match={"last_user": {"contains": "hello"}}, reply={"content": "Hi there!"})
    client = emulator.openai_client()
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content == "Hi there!"
    assert emulator.requests[-1].body["model"] == "gpt-4o"
    assert emulator.requests.last.messages == [{"role": "user", "content": "hello"}]
'''


def test_installing_the_package_is_enough_no_conftest_needed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(HELLO_TEST)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_state_is_reset_between_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        def test_first(emulator):
            emulator.add(name="greeting", match={}, reply={"content": "scripted"})
            client = emulator.openai_client()
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
            assert emulator.requests.call_count == 1

        def test_second(emulator):
            assert emulator.requests.call_count == 0
            client = emulator.openai_client()
            reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
            assert reply.choices[0].message.content != "scripted"
    ''')
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_handle_knows_its_own_calls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        def test_calls(emulator):
            weather = emulator.add(match={"tools": ["get_weather"]}, reply={"tool_calls": [
                {"name": "get_weather", "arguments": {"city": "Oslo"}}]})
            assert not weather.called
            client = emulator.openai_client()
            tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
            reply = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "weather?"}], tools=tools)
            assert reply.choices[0].message.tool_calls[0].function.arguments == '{"city": "Oslo"}'
            assert weather.call_count == 1
    ''')
    pytester.runpytest().assert_outcomes(passed=1)


def test_assert_called_failure_lists_what_was_received(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        def test_wrong_expectation(emulator):
            client = emulator.openai_client()
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "bonjour"}])
            emulator.assert_called(model="gpt-4o", last_user={"contains": "hello"})
    ''')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: no request matched {'model': 'gpt-4o', 'last_user': {'contains': 'hello'}}; received:",
        "*#0 200 model='gpt-4o-mini' last_user='bonjour': model*gpt-4o*gpt-4o-mini*",
    ])


def test_assert_all_fixtures_used_names_the_unused_ones(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        def test_unused(emulator):
            emulator.add(name="never-asked", match={"model": "gpt-4o"}, reply={"content": "x"})
            emulator.assert_all_fixtures_used()
    ''')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: fixtures never used: never-asked*"])


def test_a_misspelt_marker_keyword_fails_the_test_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        import pytest

        @pytest.mark.emulator(strcit=True)
        def test_typo(emulator):
            pass
    ''')
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.emulator: *unexpected keyword argument 'strcit'*"])


def test_strict_marker_turns_an_unmatched_request_into_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        import openai, pytest

        @pytest.mark.emulator(strict=True)
        def test_strict(emulator):
            emulator.add(name="only-hello", match={"last_user": "hello"}, reply={"content": "hi"})
            client = emulator.openai_client(max_retries=0)
            with pytest.raises(openai.APIStatusError) as caught:
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "bye"}])
            assert "only-hello" in str(caught.value)

        def test_not_strict_afterwards(emulator):
            client = emulator.openai_client(max_retries=0)
            assert client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "bye"}])
    ''')
    pytester.runpytest().assert_outcomes(passed=2)


def test_seed_marker_makes_generated_replies_repeat(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        import pytest

        def ask(emulator):
            client = emulator.openai_client()
            return client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content

        @pytest.mark.emulator(seed=99)
        def test_one(emulator, record_property):
            print("REPLY:", ask(emulator))

        @pytest.mark.emulator(seed=99)
        def test_two(emulator):
            print("REPLY:", ask(emulator))
    ''')
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=2)
    replies = [line for line in result.outlines if line.startswith("REPLY:") or "REPLY:" in line]
    texts = {line.split("REPLY:", 1)[1] for line in replies}
    assert len(replies) == 2 and len(texts) == 1


def test_fixture_files_from_the_marker_and_the_command_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", marked='''
        fixtures:
          - name: from-marker
            match: {last_user: marker}
            reply: {content: "from the marker file"}
    ''', session='''
        fixtures:
          - name: from-option
            match: {last_user: option}
            reply: {content: "from the option file"}
    ''')
    pytester.makepyfile('''
        import pytest

        def ask(emulator, text):
            client = emulator.openai_client()
            return client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": text}]).choices[0].message.content

        @pytest.mark.emulator(fixtures="marked.yaml")
        def test_marker_file(emulator):
            assert ask(emulator, "marker") == "from the marker file"

        def test_option_file(emulator):
            assert ask(emulator, "option") == "from the option file"
            assert ask(emulator, "marker") != "from the marker file"
    ''')
    pytester.runpytest("--emulator-fixtures", "session.yaml").assert_outcomes(passed=2)


def test_emulator_env_points_a_bare_openai_client_at_the_emulator(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        import openai

        def test_bare_client(emulator_env):
            emulator_env.add(match={}, reply={"content": "through the environment"})
            reply = openai.OpenAI().chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "x"}])
            assert reply.choices[0].message.content == "through the environment"
    ''')
    pytester.runpytest().assert_outcomes(passed=1)


def test_ini_switch_wires_the_environment_for_every_test(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nemulator_env = true\n")
    pytester.makepyfile('''
        import os

        def test_without_asking():
            assert os.environ["OPENAI_BASE_URL"].startswith("http://127.0.0.1:")
            assert os.environ["OPENAI_BASE_URL"].endswith("/v1")
    ''')
    pytester.runpytest().assert_outcomes(passed=1)


def test_async_tests_use_the_async_client(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_async(emulator):
            emulator.add(match={}, reply={"content": "async hello"})
            async with emulator.async_openai_client() as client:
                reply = await client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "x"}])
            assert reply.choices[0].message.content == "async hello"
    ''')
    pytester.runpytest().assert_outcomes(passed=1)


def test_works_under_xdist_with_two_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**{f"test_worker_{i}": HELLO_TEST for i in range(4)})
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=4)


def test_an_unhandled_server_error_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        import openai, pytest
        from emulator import reply

        def test_hits_a_server_bug(emulator, monkeypatch):
            def broken(*args, **kwargs):
                raise RuntimeError("bug in the emulator")
            monkeypatch.setattr(reply, "build_reply", broken)
            client = emulator.openai_client(max_retries=0)
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    ''')
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*the emulator hit 1 unhandled error(s) during the test:*", "*bug in the emulator*"])
