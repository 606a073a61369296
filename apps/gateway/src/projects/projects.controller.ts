import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiConflictResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AuthUser, CurrentUser } from '../users/current-user';
import { CreateProjectDto, ProjectCreatedDto, ProjectDto } from './projects.dto';
import { ProjectsService } from './projects.service';

@ApiTags('projects')
@Controller('api/projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Post()
  @HttpCode(200)
  @ApiOkResponse({ type: ProjectCreatedDto })
  @ApiConflictResponse({ description: 'A project with this name already exists' })
  create(@CurrentUser() user: AuthUser, @Body() body: CreateProjectDto): Promise<ProjectCreatedDto> {
    return this.projects.create(user.id, body);
  }

  @Get()
  @ApiOkResponse({ type: [ProjectDto] })
  list(@CurrentUser() user: AuthUser): Promise<ProjectDto[]> {
    return this.projects.list(user.id);
  }
}
