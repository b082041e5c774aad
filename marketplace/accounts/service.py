"""Account rules: who someone is, which organizations they act for, and in what role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, select

from factories.errors import N_, InputError, Message
from factories.models import id_of
from marketplace.accounts.models import (
    ROLES_BY_KIND,
    Membership,
    Organization,
    OrganizationKind,
    Role,
    User,
    UserSession,
)
from marketplace.accounts.passwords import hash_password, needs_rehash, verify_password


class AccountError(InputError):
    """A rule of accounts was broken; `field` names the input at fault."""


EMAIL_MAX_LENGTH = 254


def normalize_email(email: str) -> str:
    return email.strip().lower()


def is_valid_email(email: str) -> bool:
    """An address the sign-up and invitation forms would take (WTForms' Email() and
    Length(max=254)), for the ways in that have no form: company sign-in, services."""
    email = normalize_email(email)
    if not email or len(email) > EMAIL_MAX_LENGTH:
        return False
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalize_email(email))).first()


def create_user(
    session: Session, email: str, password: str | None, display_name: str = "", locale: str = "en"
) -> User:
    if not is_valid_email(email):
        raise AccountError("email", N_("enter a valid email address"))
    if find_user_by_email(session, email) is not None:
        raise AccountError("email", N_("an account with this email address already exists"))
    user = User(
        email=normalize_email(email),
        password_hash=hash_password(password) if password else None,
        display_name=display_name,
        locale=locale,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user with these credentials, or None; upgrades the stored hash when it is weak."""
    user = find_user_by_email(session, email)
    if user is None or not user.is_active or user.password_hash is None:
        # Spend the same time as a real check, so response times don't reveal accounts.
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = datetime.now(UTC)
    return user


_DUMMY_HASH = hash_password("not-a-real-password")


def create_organization(
    session: Session, kind: OrganizationKind, name: str, country: str = ""
) -> Organization:
    organization = Organization(kind=kind, name=name.strip(), country=country.upper())
    session.add(organization)
    session.flush()
    return organization


def check_role(organization: Organization, role: Role) -> None:
    if role not in ROLES_BY_KIND[OrganizationKind(organization.kind)]:
        raise AccountError(
            "role",
            N_(
                "role %(role)s does not exist in a %(kind)s organization",
                role=role,
                kind=organization.kind,
            ),
        )


def add_member(session: Session, user: User, organization: Organization, role: Role) -> Membership:
    check_role(organization, role)
    membership = Membership(user_id=id_of(user), organization_id=id_of(organization), role=role)
    session.add(membership)
    session.flush()
    return membership


@dataclass(frozen=True)
class Principal:
    """Who is acting: a person in one organization, or a machine client of one factory.

    Every authorization decision is made from this object alone.
    """

    organization_id: int
    organization_kind: OrganizationKind
    role: Role
    user_id: int | None = None
    client_id: str | None = None
    # Machine clients carry OAuth2 scopes; people carry every scope of their role.
    scopes: frozenset[str] | None = None

    @property
    def is_operator(self) -> bool:
        return self.role == Role.OPERATOR

    @property
    def is_factory(self) -> bool:
        return self.organization_kind == OrganizationKind.FACTORY

    @property
    def is_buyer(self) -> bool:
        return self.organization_kind == OrganizationKind.BUYER

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes

    def acts_for(self, organization_id: int) -> bool:
        return self.organization_id == organization_id


def memberships_of(session: Session, user_id: int) -> list[tuple[Membership, Organization]]:
    return list(
        session.exec(
            select(Membership, Organization)
            .join(Organization, col(Organization.id) == col(Membership.organization_id))
            .where(Membership.user_id == user_id)
            .order_by(col(Membership.id))
        ).all()
    )


def principal_for(session: Session, user_id: int, organization_id: int | None) -> Principal | None:
    """The principal of a signed-in person acting for an organization they belong to."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    for membership, organization in memberships_of(session, user_id):
        if organization_id is None or organization.id == organization_id:
            return Principal(
                organization_id=id_of(organization),
                organization_kind=OrganizationKind(organization.kind),
                role=Role(membership.role),
                user_id=user.id,
            )
    return None


# Sign-up -----------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10

FIRST_ROLE_OF_KIND: dict[OrganizationKind, Role] = {
    OrganizationKind.BUYER: Role.BUYER_MEMBER,
    OrganizationKind.FACTORY: Role.FACTORY_OWNER,
}


def check_new_password(password: str, email: str = "", field: str = "password") -> None:
    if problems := new_password_problems(password, email, field):
        raise AccountError.of(problems)


def new_password_problems(
    password: str, email: str = "", field: str = "password"
) -> list[tuple[str, Message]]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return [(field, N_("use at least %(min)d characters", min=MIN_PASSWORD_LENGTH))]
    if email and password.strip().lower() == normalize_email(email):
        return [(field, N_("the password must not be the email address"))]
    return []


def check_signup(
    *, email: str, password: str, organization_name: str, kind: OrganizationKind
) -> None:
    """What sign-up refuses, every problem at once, before anything is kept; says
    nothing of existing accounts."""
    problems = []
    if kind not in FIRST_ROLE_OF_KIND:
        problems.append(("kind", N_("choose buyer or factory")))
    if not organization_name.strip():
        problems.append(("organization_name", N_("name the organization")))
    problems += new_password_problems(password, email)
    if not is_valid_email(email):
        problems.append(("email", N_("enter a valid email address")))
    if problems:
        raise AccountError.of(problems)


def start_organization(
    session: Session, user: User, *, name: str, kind: OrganizationKind, country: str
) -> Organization:
    """An organization started by someone who already has an account (e.g. after OIDC)."""
    if kind not in FIRST_ROLE_OF_KIND:
        raise AccountError("kind", N_("choose buyer or factory"))
    if not name.strip():
        raise AccountError("name", N_("name the organization"))
    organization = create_organization(session, kind, name, country)
    add_member(session, user, organization, FIRST_ROLE_OF_KIND[kind])
    return organization


def set_password(session: Session, user: User, password: str) -> None:
    check_new_password(password, user.email)
    user.password_hash = hash_password(password)
    session.flush()


# Members -------------------------------------------------------------------------------


def members_of(session: Session, organization_id: int) -> list[tuple[Membership, User]]:
    return list(
        session.exec(
            select(Membership, User)
            .join(User, col(User.id) == col(Membership.user_id))
            .where(Membership.organization_id == organization_id)
            .order_by(col(Membership.id))
        ).all()
    )


def remove_member(session: Session, membership: Membership) -> None:
    """Remove someone from an organization; the last owner of a factory stays."""
    if membership.role == Role.FACTORY_OWNER:
        owners = session.exec(
            select(Membership).where(
                Membership.organization_id == membership.organization_id,
                Membership.role == Role.FACTORY_OWNER,
            )
        ).all()
        if len(owners) <= 1:
            raise AccountError("membership", N_("a factory keeps at least one owner"))
    # Sessions acting for this organization end with the membership.
    for row in session.exec(
        select(UserSession).where(
            UserSession.user_id == membership.user_id,
            UserSession.organization_id == membership.organization_id,
            col(UserSession.revoked_at).is_(None),
        )
    ):
        row.revoked_at = datetime.now(UTC)
    session.delete(membership)
    session.flush()
