"""The lessons, in the tutorial's order: the idea, the task, one hint, and a "show me".

Each lesson is done in the live chat (or, for lesson 8, by choosing a snippet) and graded by
``chatkit.lessons.checks`` on the request that was really sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatkit.turn import TrimmingSettings

# Four turns, the first fact asked for last: long enough for trimming or a summary to act.
FOUR_TURNS = ("My name is Alice.", "I live in Paris.", "I like tea.", "What is my name?")


@dataclass(frozen=True)
class Lesson:
    """One lesson of the tutorial, as the Lessons page shows it."""

    number: int
    slug: str
    title: str
    idea: str  # a few sentences of markdown, our own words
    task: str  # what the student does in the live chat
    hint: str  # one hint
    picture: str  # the figure the page draws
    show_me: ShowMe
    mode: str  # the API mode the task needs


@dataclass(frozen=True)
class ShowMe:
    """What the "show me" button does in the live chat: switch to API ``mode`` (and to
    ``trimming``, when set), then send ``messages`` in order, each in a conversation of its
    own when ``new_conversation_each`` (lesson 1), else all in one new conversation."""

    mode: str = "chat"
    messages: tuple[str, ...] = ()
    new_conversation_each: bool = False
    trimming: TrimmingSettings | None = None


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        1,
        "stateless",
        "A stateless call forgets",
        "A model keeps nothing between requests. Each call is read on its own: whatever you "
        "said in an earlier call is gone unless the request carries it again. What looks like "
        "memory in a chat app is the app resending the conversation.",
        "Tell the model a fact about yourself, start a new chat, and ask it about that fact.",
        "Press New conversation in the sidebar between the two messages, so the question goes "
        "out on its own.",
        "stateless",
        ShowMe(
            "chat",
            ("My name is Alice.", "What is my name?"),
            new_conversation_each=True,
        ),
        "chat",
    ),
    Lesson(
        2,
        "history",
        "Keeping history yourself",
        "With Chat Completions the client owns the conversation. Every request sends the whole "
        "`messages` array: the system prompt, then each user message and assistant reply in "
        "order, then the new question. The model sees the earlier turns only because they are "
        "in this list.",
        "In Chat Completions mode, tell the model a fact, then ask about it in the same chat.",
        "Stay in one conversation for both messages: the second request then resends the first "
        "turn and its reply.",
        "history",
        ShowMe("chat", ("My name is Alice.", "What is my name?")),
        "chat",
    ),
    Lesson(
        3,
        "chain",
        "Responses chaining",
        "The Responses API can keep the conversation for you. With `store` set to true each "
        "response gets an id; the next call names it in `previous_response_id` and sends only "
        "the new input. Instructions are not carried along the chain, so a client that wants "
        "them sends `instructions` again on every call.",
        "Switch to Responses mode and send two messages in the same chat.",
        "Keep trimming off: when trimming drops a turn, the chain restarts with the full history.",
        "chain",
        ShowMe("responses", ("My favorite color is blue.", "What is my favorite color?")),
        "responses",
    ),
    Lesson(
        4,
        "messages",
        "Anthropic Messages",
        "Anthropic's Messages API takes the system prompt as a top-level `system` field, not as "
        "a message, and wants the turns to start with the user and alternate strictly. Two "
        "user messages in a row are an error there; normalizing merges them into one without "
        "changing the list you passed in.",
        "Switch to Messages mode and have a two-turn conversation with a system prompt set.",
        "Look for `system` beside `messages` in the request, not inside it.",
        "messages",
        ShowMe("messages", ("Hi, I am learning Python.", "What should I learn first?")),
        "messages",
    ),
    Lesson(
        5,
        "window",
        "Counting tokens and the context window",
        "Every request is measured in tokens, and the whole prompt must fit the model's context "
        "window along with the reply. Because the history is resent, the count grows with each "
        "turn. Some counts are exact, from the model's own tokenizer; others are estimates.",
        "Chat until one request uses at least 100 input tokens, and watch the window fill.",
        "A longer message, or a few more turns, pushes the count past 100.",
        "window",
        ShowMe(
            "chat",
            (
                "Please remember these facts: my name is Alice, I live in Paris, I like tea, "
                "and I am learning Python to analyse data about rivers.",
                "What do you know about me so far?",
            ),
        ),
        "chat",
    ),
    Lesson(
        6,
        "trimming",
        "Trimming: last N turns versus a token budget",
        "A long chat must be cut before it overflows. Keeping the last N turns is simple but "
        "blind to length; a token budget keeps the newest whole turns that fit a number of "
        "tokens. Either way the system prompt and the new message stay, and older turns go.",
        "Turn on Last N turns (or Token budget) and chat until older turns are left out.",
        "Set Last N turns to 1, then send three messages.",
        "trimming",
        ShowMe(
            "chat",
            FOUR_TURNS,
            trimming=TrimmingSettings("last_n", last_n=1),
        ),
        "chat",
    ),
    Lesson(
        7,
        "summary",
        "Summaries",
        "Instead of dropping old turns, an app can ask the model to summarize them and send the "
        "summary in their place. The request stays small while the main facts survive, at the "
        "cost of one extra call whenever the summary changes.",
        "Choose Summarize older turns with a small budget and chat until a summary is sent.",
        "A budget of about 150 tokens makes a summary appear after a few turns.",
        "summary",
        ShowMe(
            "chat",
            FOUR_TURNS,
            trimming=TrimmingSettings("summarize", max_tokens=150),
        ),
        "chat",
    ),
    Lesson(
        8,
        "classes",
        "The tutorial's classes, run for real",
        "The tutorial wraps all this in classes: `ConversationManager` keeps the message list, "
        "`ResponsesConversation` keeps the last response id, `ConversationSession` does either. "
        "They only remember if you keep the same object for the whole chat. Here you pick a "
        "snippet rather than type code: Python cannot run a stranger's code safely inside the "
        "server, which holds keys and files, so the snippets are fixed and run as written.",
        "Choose a snippet that keeps context, run it, and check what its requests carried.",
        "A snippet that builds a new object for every message forgets, whatever class it uses.",
        "classes",
        ShowMe("chat"),
        "chat",
    ),
)


def lesson(number: int) -> Lesson:
    """Lesson ``number`` (1-based)."""
    if not 1 <= number <= len(LESSONS):
        raise ValueError(f"There is no lesson {number}: choose 1 to {len(LESSONS)}.")
    return LESSONS[number - 1]
